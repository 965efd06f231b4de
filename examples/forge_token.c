/*
 * forge_token.c — what an attacker can make from a token he has seen: a
 * well-formed token (valid text checksum) with one bit of the tag flipped,
 * or with the rights it names unchanged but a made-up tag.  SHMemora
 * refuses it as forged (exit code 3 from `shmemora`), not as mistyped.
 *
 *   ./forge_token TOKEN [BIT]
 */
#include <shmemora.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s TOKEN [BIT 0..127]\n", argv[0]);
		return 2;
	}
	shmemora_token t;
	if (shmemora_token_parse(argv[1], &t) != 0) {
		fprintf(stderr, "%s\n", shmemora_errmsg());
		return 2;
	}
	int bit = argc == 3 ? atoi(argv[2]) % 128 : 0;
	t.tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	char text[SHMEMORA_TOKEN_TEXT_LEN + 1];
	shmemora_token_format(&t, text, sizeof text);
	printf("%s\n", text);
	return 0;
}
