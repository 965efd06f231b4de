/*
 * shmemora.c — the operator's command: its subcommands and their help.
 *
 * Each subcommand is one function taking (argc, argv) after the subcommand
 * name, in the file of its group (cli.h lists them); the table below maps
 * names to functions and help texts.  Library errors become one line on
 * stderr and an exit code from the one table in cli.c, which --help prints.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;              /* the help text, or */
	void (*print_help)(FILE *f);   /* a function that prints it */
	const char *summary;
};

static const struct command commands[] = {
	{ "create", cmd_create, NULL, create_help, "create a pool, its key file and root token" },
	{ "info", cmd_info, info_help, NULL, "show a pool's format, geometry and protection mode" },
	{ "hosts", cmd_hosts, hosts_help, NULL, "list the hosts attached to a pool" },
	{ "destroy", cmd_destroy, destroy_help, NULL, "remove a pool and its key file" },
	{ "token", cmd_token, token_help, NULL,
	  "derive, revoke, list, inspect, gc capability tokens" },
	{ "region", cmd_region, region_help, NULL,
	  "read or write raw bytes through the protected path" },
	{ "ns", cmd_ns, ns_help, NULL, "list, create, delete, describe or limit namespaces" },
	{ "put", cmd_put, put_help, NULL, "insert or replace a key" },
	{ "get", cmd_get, get_help, NULL, "print a key's value" },
	{ "del", cmd_del, del_help, NULL, "delete a key" },
	{ "keys", cmd_keys, keys_help, NULL, "list a namespace's keys (and values)" },
	{ "dump", cmd_dump, dump_help, NULL, "write a namespace to standard output, checksummed" },
	{ "load", cmd_load, load_help, NULL, "verify a dump, then load it into a namespace" },
	{ "stats", cmd_stats, stats_help, NULL,
	  "keys, space, index load; --prometheus for scrapers" },
	{ "check", cmd_check, check_help, NULL, "verify every structure; --repair leaks and dead hosts" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
	fprintf(f, "Usage: shmemora COMMAND [options]\n\n"
		   "SHMemora: a protective key-value store for CXL shared memory pools.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'shmemora COMMAND --help' describes each command.  A TOKEN is a token's\n"
		   "text (shmemora1_...) or @FILE; without --token a command uses the pool's\n"
		   "root token file (POOL.root-token).\n\n");
	print_exit_codes(f);
}

static void print_help(const struct command *c)
{
	if (c->print_help)
		c->print_help(stdout);
	else
		fputs(c->help, stdout);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		if (argc > 2)
			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(argv[2], commands[i].name) == 0) {
					print_help(&commands[i]);
					return EXIT_OK;
				}
		print_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
		printf("shmemora %s (pool format %d)\n", shmemora_version(), SHMEMORA_FORMAT_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			print_help(&commands[i]);
			return EXIT_OK;
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	return cli_error(EXIT_USAGE, "unknown command '%s' (see 'shmemora --help')", name);
}
