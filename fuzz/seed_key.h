/* Key of the seed pool in fuzz/corpus/pool_image (a test pool, not a secret). */
#define SEED_KEY_HEX "9fa86fcae15b36afafc5ce1466dc6d7c2ce60fc01189464f89b1f7fd7f0ccb0b"
