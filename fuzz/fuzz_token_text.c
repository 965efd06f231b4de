/*
 * fuzz_token_text.c — libFuzzer harness: any bytes as a token's text form.
 * Must never crash; whatever parses must format back to the same text.
 */
#include "shmemora.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	shmemora_token t;
	if (shmemora_token_parse(text, &t) == 0) {
		char again[SHMEMORA_TOKEN_TEXT_LEN + 1];
		shmemora_token back;
		if (shmemora_token_format(&t, again, sizeof again) != 0 ||
		    shmemora_token_parse(again, &back) != 0 || back.key_hint != t.key_hint ||
		    back.id != t.id || memcmp(back.tag, t.tag, sizeof t.tag) != 0)
			abort();
	}
	free(text);
	return 0;
}
