/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"

struct split_case {
	const char *cmd;
	const char *want[5];
	const char *what;
};

static const struct split_case split_cases[] = {
	{"pass show mail", {"pass", "show", "mail"}, "plain words"},
	{"  a\t b  ", {"a", "b"}, "extra blanks"},
	{"gpg -d '/my dir/pw.gpg'", {"gpg", "-d", "/my dir/pw.gpg"},
	 "single quotes"},
	{"echo \"a \\\"b\\\" c\"", {"echo", "a \"b\" c"}, "double quotes"},
	{"echo a\\ b", {"echo", "a b"}, "backslash escape"},
	{"echo '$HOME' `x` ;", {"echo", "$HOME", "`x`", ";"},
	 "no expansion, no shell"},
	{"echo ''", {"echo", ""}, "empty argument"},
};

static void test_split(void)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(*split_cases);
	     i++) {
		const struct split_case *c = &split_cases[i];
		char **argv = NULL, *err = NULL;
		int ok = util_argv_split(c->cmd, &argv, &err) == 0;
		for (size_t j = 0; ok && j < 5; j++) {
			if (c->want[j] == NULL)
				ok = argv[j] == NULL;
			else
				ok = argv[j] != NULL &&
				     strcmp(argv[j], c->want[j]) == 0;
			if (c->want[j] == NULL)
				break;
		}
		tap_ok(ok, c->what);
		util_argv_free(&argv);
		free(err);
	}
	const char *bad[] = {"", "   ", "echo 'open", "echo \"open"};
	for (size_t i = 0; i < 4; i++) {
		char **argv = NULL, *err = NULL;
		tap_ok(util_argv_split(bad[i], &argv, &err) < 0 &&
			       err != NULL && argv == NULL,
		       "bad command refused");
		free(err);
	}
}

static void test_tilde(void)
{
	setenv("HOME", "/home/u", 1);
	char *p = util_expand_tilde("~/Mail");
	tap_str(p, "/home/u/Mail", "~/ expanded");
	free(p);
	p = util_expand_tilde("~");
	tap_str(p, "/home/u", "~ alone expanded");
	free(p);
	p = util_expand_tilde("/var/~x");
	tap_str(p, "/var/~x", "~ elsewhere untouched");
	free(p);
	p = util_expand_tilde("~other/x");
	tap_str(p, "~other/x", "~user form untouched");
	free(p);
}

static void test_bytes(void)
{
	char b[32];
	util_human_bytes(0, b, sizeof(b));
	tap_str(b, "0 B", "0 B");
	util_human_bytes(3400, b, sizeof(b));
	tap_str(b, "3.4 KB", "3.4 KB");
	util_human_bytes(12000000, b, sizeof(b));
	tap_str(b, "12.0 MB", "12.0 MB");
}

static void test_fail(void)
{
	tap_ok(util_fail_exit_code(UTIL_FAIL_NONE) == 0 &&
		       util_fail_exit_code(UTIL_FAIL_TEMP) == 75 &&
		       util_fail_exit_code(UTIL_FAIL_LOCAL) == 74 &&
		       util_fail_exit_code(UTIL_FAIL_AUTH) == 77 &&
		       util_fail_exit_code(UTIL_FAIL_CONFIG) == 78,
	       "sysexits codes");
	tap_ok(util_fail_worst(UTIL_FAIL_TEMP, UTIL_FAIL_AUTH) ==
			       UTIL_FAIL_AUTH &&
		       util_fail_worst(UTIL_FAIL_CONFIG, UTIL_FAIL_LOCAL) ==
			       UTIL_FAIL_CONFIG &&
		       util_fail_worst(UTIL_FAIL_LOCAL, UTIL_FAIL_TEMP) ==
			       UTIL_FAIL_LOCAL,
	       "the most serious failure wins");
}

/* One option value: parsed by duration (D) or size (!D); WANT, or an
 * error when WHY (a part of the text) is set. */
static const struct value_case {
	bool duration;
	const char *in;
	uint64_t want;
	const char *why;
} value_cases[] = {
    {true, "0", 0, NULL},
    {true, "45s", 45, NULL},
    {true, "90m", 5400, NULL},
    {true, "12h", 43200, NULL},
    {true, "30d", 2592000, NULL},
    {true, "2w", 1209600, NULL},
    {true, "1w3d12h", 907200, NULL},
    {true, "0d", 0, NULL},
    {true, "30", 0, "missing unit"},
    {true, "30x", 0, "unknown unit"},
    {true, "30D", 0, "unknown unit"},
    {true, "", 0, "expected a number"},
    {true, "d", 0, "expected a number"},
    {true, "-1d", 0, "expected a number"},
    {true, " 1d", 0, "expected a number"},
    {true, "1d ", 0, "expected a number"},
    {true, "1.5d", 0, "unknown unit"},
    {true, "18446744073709551615s", UINT64_MAX, NULL},
    {true, "18446744073709551616s", 0, "number too large"},
    {true, "30600000000000w", 0, "value too large"},
    {true, "18446744073709551615s1s", 0, "value too large"},
    {false, "0", 0, NULL},
    {false, "4096", 4096, NULL},
    {false, "512K", 524288, NULL},
    {false, "25M", 26214400, NULL},
    {false, "25mb", 26214400, NULL},
    {false, "1G", 1073741824, NULL},
    {false, "2T", 2199023255552ULL, NULL},
    {false, "100B", 100, NULL},
    {false, "16777215T", 18446742974197923840ULL, NULL},
    {false, "16777216T", 0, "value too large"},
    {false, "1.5M", 0, "unknown unit"},
    {false, "5KiB", 0, "unknown unit"},
    {false, "M", 0, "expected a number"},
    {false, "", 0, "expected a number"},
    {false, "+5M", 0, "expected a number"},
    {false, "5M ", 0, "unknown unit"},
};

static void test_values(void)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(*value_cases);
	     i++) {
		const struct value_case *c = &value_cases[i];
		const char *why = NULL;
		uint64_t v = 12345;
		int r = c->duration ? util_parse_duration(c->in, &v, &why)
				    : util_parse_size(c->in, &v, &why);
		char *what = xasprintf(
		    "%s \"%s\": %s", c->duration ? "duration" : "size", c->in,
		    c->why != NULL ? c->why : "accepted");
		if (c->why == NULL)
			tap_ok(r == 0 && v == c->want, what);
		else
			tap_ok(r == -1 && why != NULL &&
				   strstr(why, c->why) != NULL,
			       what);
		free(what);
	}
}

int main(void)
{
	test_split();
	test_tilde();
	test_bytes();
	test_fail();
	test_values();
	return tap_done();
}
