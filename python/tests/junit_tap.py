"""junit_tap.py JUNIT_XML PYTEST_STATUS LOG — pytest's JUnit XML report as
TAP, for tests/run-tests.sh: one line per pytest test, by name; a skipped
test is "ok N # SKIP name: reason".

It fails closed: a report that is missing or unreadable, an exit status
other than 0 (all passed) or 1 (some failed), a status that disagrees with
the report, or a report of no tests at all adds a failing line, with the
end of pytest's output as comments.
"""
import sys
import xml.etree.ElementTree as ET


def comment(text, limit=60):
    lines = text.rstrip("\n").splitlines()[-limit:]
    return "".join(f"# {line}\n" for line in lines)


def main(junit, status, log):
    status = int(status)
    with open(log, encoding="utf-8", errors="replace") as f:
        log_text = f.read()
    results = []  # (kind, name, detail)
    problem = None
    try:
        root = ET.parse(junit).getroot()
        for case in root.iter("testcase"):
            module = case.get("classname", "").rpartition(".")[2]
            name = f"{module}::{case.get('name')}".replace("#", "")
            failed = case.find("failure")
            if failed is None:
                failed = case.find("error")
            skipped = case.find("skipped")
            if failed is not None:
                results.append(("fail", name, (failed.get("message") or "") + "\n" +
                                (failed.text or "")))
            elif skipped is not None:
                reason = skipped.get("message") or "skipped"
                results.append(("skip", name, reason.replace("#", "").replace("\n", " ")))
            else:
                results.append(("pass", name, ""))
    except (OSError, ET.ParseError) as exc:
        problem = f"no readable pytest report ({exc})"
    failures = sum(kind == "fail" for kind, _, _ in results)
    if problem is None:
        if not results:
            problem = "pytest ran no test"
        elif status not in (0, 1):
            problem = f"pytest exited with status {status} (interrupted, or a usage error)"
        elif (status == 1) != (failures > 0):
            problem = f"pytest exited with status {status} but reported {failures} failures"
    out = [f"1..{len(results) + (problem is not None)}"]
    for n, (kind, name, detail) in enumerate(results, 1):
        if kind == "pass":
            out.append(f"ok {n} - {name}")
        elif kind == "skip":
            out.append(f"ok {n} - {name} # SKIP {detail}")
        else:
            out.append(f"not ok {n} - {name}")
            out.append(comment(detail).rstrip("\n"))
    if problem is not None:
        out.append(f"not ok {len(results) + 1} - pytest: {problem}")
        out.append(comment(log_text).rstrip("\n"))
    passed = sum(kind == "pass" for kind, _, _ in results)
    skipped = sum(kind == "skip" for kind, _, _ in results)
    out.append(f"# {passed} pytest tests passed, {failures} failed, {skipped} skipped")
    print("\n".join(line for line in out if line))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
