"""The ctypes declarations against include/shmemora.h.

ctypes computes struct layouts from the binding's own declarations, so a
field added, removed or retyped in the header would silently shift every
field after it.  Here the C compiler lays out each struct from the header
and the offsets, sizes and constants must agree; the functions' parameter
counts and every enum's members are read from the header's text.
"""
import ctypes
import os
import re
import shutil
import subprocess

import pytest
import shmemora
from conftest import HEADER, REPO
from shmemora import _lib, _pool

HEADER_TEXT = open(HEADER, encoding="utf-8").read()

# Python enum: (C enum name, prefix of its members' C names)
ENUMS = {
    shmemora.Rights: ("shmemora_right", r"SHMEMORA_RIGHTS?_"),
    shmemora.Scope: ("shmemora_scope", r"SHMEMORA_SCOPE_"),
    shmemora.TokenState: ("shmemora_token_state", r"SHMEMORA_TOKEN_"),
    shmemora.Coherence: ("shmemora_coherence", r"SHMEMORA_"),
    shmemora.Backend: ("shmemora_backend", r"SHMEMORA_BACKEND_"),
    shmemora.Protection: ("shmemora_protection", r"SHMEMORA_PROTECT_"),
    shmemora.HostState: ("shmemora_host_state", r"SHMEMORA_HOST_"),
    shmemora.Verify: ("shmemora_verify", r"SHMEMORA_VERIFY_"),
    shmemora.Region: ("shmemora_region", r"SHMEMORA_REGION_"),
}

# C constant: the binding's value
CONSTANTS = {
    "SHMEMORA_TAG_BYTES": _lib.TAG_BYTES,
    "SHMEMORA_TOKEN_TEXT_LEN": _lib.TOKEN_TEXT_LEN,
    "SHMEMORA_REGION_COUNT": _lib.REGION_COUNT,
    "SHMEMORA_NS_NAME_MAX + 1": _lib.NS_NAME_BYTES,
    "SHMEMORA_MAX_HOSTS": _pool.MAX_HOSTS,
    "SHMEMORA_VERSION_MAJOR": _lib.ABI_VERSION[0],
    "SHMEMORA_VERSION_MINOR": _lib.ABI_VERSION[1],
    "sizeof(((shmemora_info *)0)->size_classes) / sizeof(uint32_t)": _lib.SIZE_CLASSES_MAX,
}


def enum_members(c_name, prefix):
    body = re.search(r"enum %s\s*\{(.*?)\};" % c_name, HEADER_TEXT, re.S)
    assert body, f"enum {c_name} is not in the header"
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        prefix + r"(\w+)\s*=\s*(-?\d+)", re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S))}


@pytest.mark.parametrize("py_enum", list(ENUMS), ids=lambda e: e.__name__)
def test_enum_matches_the_header(py_enum):
    c_name, prefix = ENUMS[py_enum]
    header = enum_members(c_name, prefix)
    if py_enum is shmemora.Region:
        header.pop("COUNT")
    assert header == {m.name: m.value for m in py_enum.__members__.values()}


def parameter_count(name):
    """How many parameters `name` takes in the header (commas at depth 0 of
    its parameter list; a function pointer's own list is deeper)."""
    m = re.search(r"SHMEMORA_API[^;{}]*?\b%s\s*\(" % name, HEADER_TEXT)
    assert m, f"{name} is not declared in the header"
    i, depth, count, text = m.end(), 0, 1, ""
    while depth or HEADER_TEXT[i] != ")":
        c = HEADER_TEXT[i]
        depth += (c == "(") - (c == ")")
        count += c == "," and depth == 0
        text += c
        i += 1
    return 0 if text.strip() == "void" else count


@pytest.mark.parametrize("name", sorted(_lib.PROTOTYPES))
def test_function_is_declared_with_as_many_parameters(name):
    assert parameter_count(name) == len(_lib.PROTOTYPES[name][1])


def test_every_exported_function_is_in_the_header_or_left_out_on_purpose():
    declared = set(re.findall(r"SHMEMORA_API\s+[^;(]*?\b(shmemora_\w+)\s*\(", HEADER_TEXT))
    left_out = {  # what the binding does not wrap, and why
        "shmemora_region_acquire",   # the seed-compatible name of Token.derive(region=...)
        "shmemora_timing_enable",    # benchmark instrumentation of the C library
        "shmemora_timing_read",
        "shmemora_coherence_name", "shmemora_backend_name",   # Python enums name them
        "shmemora_protection_name", "shmemora_host_state_name",
    }
    wrapped = set(_lib.PROTOTYPES)
    assert wrapped <= declared, f"declared by the binding, not in the header: {wrapped - declared}"
    unwrapped = declared - wrapped - left_out
    assert not unwrapped, (
        f"functions of shmemora.h the binding neither wraps nor leaves out on purpose: "
        f"{sorted(unwrapped)}: wrap them (python/shmemora, _lib.PROTOTYPES) or list them in "
        "left_out here with the reason")
    assert left_out <= declared, f"left_out names what the header lacks: {left_out - declared}"


def test_struct_layouts_match_the_compilers(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to lay the header's structs out")
    lines = []
    for c_name, cls in _lib.STRUCTS.items():
        lines.append(f'printf("{c_name}\\t%zu\\n", sizeof({c_name}));')
        for field, *_ in cls._fields_:
            lines.append(f'printf("{c_name}.{field}\\t%zu %zu\\n", offsetof({c_name}, {field}),'
                         f' sizeof((({c_name} *)0)->{field}));')
    for expr in CONSTANTS:
        lines.append(f'printf("%s\\t%lld\\n", "{expr}", (long long)({expr}));')
    probe = tmp_path / "probe.c"
    probe.write_text("#include <shmemora.h>\n#include <stddef.h>\n#include <stdio.h>\n"
                     "int main(void)\n{\n\t" + "\n\t".join(lines) + "\n\treturn 0;\n}\n")
    exe = tmp_path / "probe"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", os.path.join(REPO, "include"),
                    str(probe), "-o", str(exe)], check=True, capture_output=True)
    got = {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        name, value = line.split("\t")
        got[name] = value
    mismatches = []
    for c_name, cls in _lib.STRUCTS.items():
        if got[c_name] != str(ctypes.sizeof(cls)):
            mismatches.append(f"sizeof({c_name}): C {got[c_name]}, ctypes {ctypes.sizeof(cls)}")
        for field, *_ in cls._fields_:
            desc = getattr(cls, field)
            want = f"{desc.offset} {desc.size}"
            if got[f"{c_name}.{field}"] != want:
                mismatches.append(f"{c_name}.{field} (offset size): C {got[f'{c_name}.{field}']}"
                                  f", ctypes {want}")
    for expr, value in CONSTANTS.items():
        if got[expr] != str(value):
            mismatches.append(f"{expr}: C {got[expr]}, binding {value}")
    assert not mismatches, "\n".join(mismatches)
    assert len(got) == len(_lib.STRUCTS) + sum(len(c._fields_) for c in _lib.STRUCTS.values()) \
        + len(CONSTANTS)
