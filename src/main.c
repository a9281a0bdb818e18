/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "import.h"
#include "forget.h"
#include "log.h"
#include "cli.h"
#include "reindex.h"
#include "run.h"
#include "status.h"
#include "util.h"

/* The commands besides the poll. */
static const struct command {
	const char *name;
	cli_command_fn *fn;
} commands[] = {
	{"import", import_run},
	{"status", status_command},
	{"forget", forget_command},
	{"reindex", reindex_command},
	{NULL, NULL},
};

#define COMMANDS_USAGE \
	"  import --from fetchmail|mpop|getmail [-a NAME] [--folder F] FILE\n" \
	"                      seed the seen records from another tool's state\n" \
	"  status [-a NAME]... [--json]\n" \
	"                      what the last polls found; no network\n" \
	"  forget -a NAME [--folder F] [--yes]\n" \
	"                      drop seen records: the next poll archives\n" \
	"                      those messages again\n" \
	"  reindex -a NAME     record what the archive holds already (after\n" \
	"                      the state was lost); fetches headers only\n"

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static const char usage_text[] =
	"usage: mailhaul [-c FILE] [-a NAME]... [-v|-q] [--dry-run] [--force]\n"
	"                [--fetch-all] [--check-config]\n"
	"       mailhaul [-c FILE] COMMAND [ARGS]\n"
	"       mailhaul --version | --help\n"
	"\n"
	"Polls every configured account (or each NAME) once and archives new\n"
	"mail into its Maildir or mbox.\n"
	"\n"
	"  -c, --config FILE   configuration (default "
	"~/.config/mailhaul/mailhaul.conf)\n"
	"  -a, --account NAME  only this account (repeatable)\n"
	"  -v, --verbose       more detail; twice for a protocol trace\n"
	"  -q, --quiet         errors only, no progress line\n"
	"  -n, --dry-run       list and print the plan; change nothing\n"
	"      --force         archive even into a target holding mail the\n"
	"                      state does not know\n"
	"      --fetch-all     fetch every message, archived before or not\n"
	"      --check-config  validate the configuration and list accounts\n"
	"      --version       print the version\n"
	"      --help          print this help\n"
	"\n"
	"Commands:\n"
	COMMANDS_USAGE
	"\n"
	"Exit status: 0 ok, 75 temporary failure, 77 login or certificate\n"
	"refused, 78 configuration error or refusal, 74 archive I/O error,\n"
	"64 usage error.\n";

/* Returns -1 to exit with EX_USAGE, 1 to exit 0 (help, version). */
static int parse_args(int argc, char **argv, struct cli *o)
{
	enum { OPT_CHECK = 256, OPT_VERSION, OPT_FORCE, OPT_FETCH_ALL,
	       OPT_JSON, OPT_FOLDER, OPT_FROM, OPT_YES };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"account", required_argument, NULL, 'a'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"dry-run", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, OPT_FORCE},
		{"fetch-all", no_argument, NULL, OPT_FETCH_ALL},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"json", no_argument, NULL, OPT_JSON},
		{"folder", required_argument, NULL, OPT_FOLDER},
		{"from", required_argument, NULL, OPT_FROM},
		{"yes", no_argument, NULL, OPT_YES},
		{"version", no_argument, NULL, OPT_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:a:vqnh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'a':
			o->accounts = xrealloc(o->accounts,
					       (o->n_accounts + 1) *
						       sizeof(*o->accounts));
			o->accounts[o->n_accounts++] = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_FETCH_ALL:
			o->fetch_all = true;
			break;
		case OPT_CHECK:
			o->check_config = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_FOLDER:
			o->folder = optarg;
			break;
		case OPT_FROM:
			o->from = optarg;
			break;
		case OPT_YES:
			o->yes = true;
			break;
		case OPT_VERSION:
			printf("mailhaul %s\n", PACKAGE_VERSION);
			return 1;
		case 'h':
			fputs(usage_text, stdout);
			return 1;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		o->command = argv[optind];
		o->args = argv + optind + 1;
		o->n_args = (size_t)(argc - optind - 1);
		if (find_command(o->command) == NULL) {
			fprintf(stderr, "mailhaul: unknown command: %s\n",
				o->command);
			return -1;
		}
	}
	return 0;
}

/* Every -a must name a configured account. */
static int check_names(const struct conf *conf, const struct cli *o)
{
	for (size_t i = 0; i < o->n_accounts; i++)
		if (conf_find_account(conf, o->accounts[i]) == NULL) {
			log_error(NULL, "%s: no account named \"%s\"",
				  conf->path, o->accounts[i]);
			return -1;
		}
	return 0;
}

static void apply_log_options(const struct conf *conf, const struct cli *o)
{
	enum log_level level = conf->log_level;
	if (o->quiet)
		level = LOG_LEVEL_ERROR;
	else if (o->verbose > 0)
		level = o->verbose > 1 ? LOG_LEVEL_TRACE : LOG_LEVEL_DEBUG;
	log_set_level(level);
	log_set_progress(!o->quiet);
}

int main(int argc, char **argv)
{
	struct cli o = {0};
	struct conf *conf = NULL;
	char *path = NULL, *err = NULL;
	int r = parse_args(argc, argv, &o);

	if (r != 0) {
		free(o.accounts);
		return r < 0 ? 64 : 0;
	}
	/* Passwords live in this process: keep them out of core files. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	signal(SIGPIPE, SIG_IGN);
	path = o.config != NULL ? xstrdup(o.config) : conf_default_path();
	if (conf_load(path, &conf, &err) < 0) {
		for (char *line = strtok(err, "\n"); line != NULL;
		     line = strtok(NULL, "\n"))
			log_error(NULL, "%s", line);
		r = util_fail_exit_code(UTIL_FAIL_CONFIG);
	} else if (check_names(conf, &o) < 0) {
		r = util_fail_exit_code(UTIL_FAIL_CONFIG);
	} else {
		apply_log_options(conf, &o);
		if (o.command != NULL)
			r = find_command(o.command)->fn(conf, &o);
		else if (o.check_config)
			r = run_check_config(conf, o.accounts, o.n_accounts);
		else
			r = run_poll(conf, &o);
	}
	free(err);
	free(path);
	free(o.accounts);
	conf_free(&conf);
	return r;
}
