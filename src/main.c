/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "log.h"
#include "run.h"
#include "util.h"

struct options {
	const char *config;
	char **accounts;
	size_t n_accounts;
	int verbose;
	bool quiet;
	bool check_config;
};

static const char usage_text[] =
	"usage: mailhaul [-c FILE] [-a NAME]... [-v|-q] [--check-config]\n"
	"                [--version] [--help]\n"
	"\n"
	"Polls every configured account (or each NAME) once and archives new\n"
	"mail into its Maildir or mbox.\n"
	"\n"
	"  -c, --config FILE   configuration (default "
	"~/.config/mailhaul/mailhaul.conf)\n"
	"  -a, --account NAME  poll only this account (repeatable)\n"
	"  -v, --verbose       more detail; twice for a protocol trace\n"
	"  -q, --quiet         errors only, no progress line\n"
	"      --check-config  validate the configuration and list accounts\n"
	"      --version       print the version\n"
	"      --help          print this help\n"
	"\n"
	"Exit status: 0 ok, 75 temporary failure, 77 login or certificate\n"
	"refused, 78 configuration error, 74 archive I/O error.\n";

/* Returns -1 to exit with EX_USAGE, 1 to exit 0 (help, version). */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"account", required_argument, NULL, 'a'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"check-config", no_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:a:vqh", longopts, NULL)) != -1) {
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
		case 'C':
			o->check_config = true;
			break;
		case 'V':
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
		fprintf(stderr, "mailhaul: unexpected argument: %s\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Every -a must name a configured account. */
static int check_names(const struct conf *conf, const struct options *o)
{
	for (size_t i = 0; i < o->n_accounts; i++)
		if (conf_find_account(conf, o->accounts[i]) == NULL) {
			log_error(NULL, "%s: no account named \"%s\"",
				  conf->path, o->accounts[i]);
			return -1;
		}
	return 0;
}

static void apply_log_options(const struct conf *conf, const struct options *o)
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
	struct options o = {0};
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
		r = o.check_config
			    ? run_check_config(conf, o.accounts, o.n_accounts)
			    : run_poll(conf, o.accounts, o.n_accounts);
	}
	free(err);
	free(path);
	free(o.accounts);
	conf_free(&conf);
	return r;
}
