/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"
#include "util.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* An account block whose required options are on lines 2-5. */
#define HEAD "account \"a\" {\n"
#define REQ                                                                    \
	" host = \"pop.example.com\"\n"                                        \
	" user = \"u\"\n"                                                      \
	" password_command = \"pass mail\"\n"                                  \
	" deliver = \"maildir:/var/mail/a\"\n"
#define MIN HEAD REQ "}\n"

/* Set up by main: HOME is a private temporary directory. */
static char home[64];

/* Prints TEXT as TAP comment lines. */
static void diag(const char *label, const char *text)
{
	const char *p = text != NULL ? text : "(none)";

	for (;;) {
		const char *nl = strchr(p, '\n');
		int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		printf("# %s%.*s\n", label, len, p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static struct conf *load(const char *text, char **err_r)
{
	struct conf *conf = NULL;

	*err_r = NULL;
	if (conf_load_string("t.conf", text, &conf, err_r) < 0)
		return NULL;
	return conf;
}

/* ---- valid configs and their defaults ---- */

struct valid_case {
	const char *what;
	const char *text;
	enum conf_protocol protocol;
	enum conf_tls tls;
	unsigned port;
	bool keep;
	int timeout;
	enum conf_target target;
	const char *target_path;
	int line;
};

static const struct valid_case valid_cases[] = {
    {"minimal: pop3, implicit TLS, port 995, keep, timeout 60", MIN,
     CONF_PROTOCOL_POP3, CONF_TLS_IMPLICIT, 995, true, 60, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
    {"pop3 starttls: port 110", HEAD REQ " tls = starttls\n}\n",
     CONF_PROTOCOL_POP3, CONF_TLS_STARTTLS, 110, true, 60, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
    {"pop3 none: port 110", HEAD REQ " tls = none\n}\n", CONF_PROTOCOL_POP3,
     CONF_TLS_NONE, 110, true, 60, CONF_TARGET_MAILDIR, "/var/mail/a", 1},
    {"imap implicit: port 993", HEAD REQ " protocol = imap\n}\n",
     CONF_PROTOCOL_IMAP, CONF_TLS_IMPLICIT, 993, true, 60, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
    {"imap starttls: port 143",
     HEAD REQ " protocol = imap\n tls = \"starttls\"\n}\n", CONF_PROTOCOL_IMAP,
     CONF_TLS_STARTTLS, 143, true, 60, CONF_TARGET_MAILDIR, "/var/mail/a", 1},
    {"imap none: port 143", HEAD REQ " protocol = IMAP\n tls = none\n}\n",
     CONF_PROTOCOL_IMAP, CONF_TLS_NONE, 143, true, 60, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
    {"explicit port, keep = no, timeout, mbox",
     "account \"a\" {\n host = h\n user = u\n password = \"s3cret\"\n"
     " deliver = \"mbox:/var/mail/a.mbox\"\n port = 1995\n keep = no\n"
     " timeout = 3600\n}\n",
     CONF_PROTOCOL_POP3, CONF_TLS_IMPLICIT, 1995, false, 3600, CONF_TARGET_MBOX,
     "/var/mail/a.mbox", 1},
    {"limits: port 1, timeout 1", HEAD REQ " port = 1\n timeout = 1\n}\n",
     CONF_PROTOCOL_POP3, CONF_TLS_IMPLICIT, 1, true, 1, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
    {"port 65535", HEAD REQ " port = 65535\n}\n", CONF_PROTOCOL_POP3,
     CONF_TLS_IMPLICIT, 65535, true, 60, CONF_TARGET_MAILDIR, "/var/mail/a", 1},
    {"comments of every kind; line is the account keyword's",
     "# one\n// two\n/* three\n four */\n\n# five\naccount \"a\"\n"
     "{ # six\n host = \"h\" # seven\n user = u // eight\n"
     " password_command = 'pass x' /* nine */\n"
     " deliver = \"mbox:/m\"\n}\n",
     CONF_PROTOCOL_POP3, CONF_TLS_IMPLICIT, 995, true, 60, CONF_TARGET_MBOX,
     "/m", 7},
    {"yes/true/on and unquoted values", HEAD REQ " keep = true\n}\n",
     CONF_PROTOCOL_POP3, CONF_TLS_IMPLICIT, 995, true, 60, CONF_TARGET_MAILDIR,
     "/var/mail/a", 1},
};

static void check_valid(const struct valid_case *c)
{
	char *err = NULL, what[200];
	struct conf *conf = load(c->text, &err);
	const struct conf_account *a = conf ? &conf->accounts[0] : NULL;
	bool ok =
	    a != NULL && conf->n_accounts == 1 && a->protocol == c->protocol &&
	    a->tls == c->tls && a->port == c->port && a->keep == c->keep &&
	    a->timeout == c->timeout && a->target == c->target &&
	    strcmp(a->target_path, c->target_path) == 0 && a->line == c->line;

	snprintf(what, sizeof(what), "valid: %s", c->what);
	if (!ok && err != NULL)
		diag("error: ", err);
	if (!ok && a != NULL)
		printf("# got %s/%s port %u keep %d timeout %d target %d %s "
		       "line %d\n",
		       conf_protocol_name(a->protocol), conf_tls_name(a->tls),
		       a->port, a->keep, a->timeout, a->target, a->target_path,
		       a->line);
	tap_ok(ok, what);
	free(err);
	conf_free(&conf);
}

static void test_valid(void)
{
	for (size_t i = 0; i < N(valid_cases); i++)
		check_valid(&valid_cases[i]);
}

/* ---- every error, with its message and line ---- */

struct error_case {
	const char *what;
	const char *text;
	const char *want; /* a substring of the messages */
};

static const struct error_case error_cases[] = {
    {"unknown account option", HEAD REQ " hots = \"x\"\n}\n",
     "t.conf:6: account \"a\": unknown option \"hots\""},
    {"unknown global option", "statefile = \"x\"\n" MIN,
     "t.conf:1: unknown option \"statefile\""},
    {"duplicate account", MIN "\n" MIN,
     "t.conf:8: account \"a\" is defined twice"},
    {"syntax: missing '='", HEAD " host \"h\"\n}\n",
     "t.conf:2: account \"a\": "},
    {"syntax: stray closing brace", MIN "}\n",
     "t.conf:7: unexpected closing brace"},
    {"syntax: account without a name", "account {\n}\n",
     "t.conf:1: missing title for section 'account'"},
    {"syntax: unterminated string", HEAD " host = 'h\n}\n",
     "unterminated string"},
    {"unclosed account block", "log_level = info\n" HEAD REQ,
     "t.conf:2: the account block has no closing \"}\""},
    {"missing host", HEAD " user = u\n password = p\n deliver = mbox:/m\n}\n",
     "t.conf:1: account \"a\": missing required option \"host\""},
    {"missing user", HEAD " host = h\n password = p\n deliver = mbox:/m\n}\n",
     "t.conf:1: account \"a\": missing required option \"user\""},
    {"missing deliver", "\n\n" HEAD " host = h\n user = u\n password = p\n}\n",
     "t.conf:3: account \"a\": missing required option \"deliver\""},
    {"missing password and password_command",
     HEAD " host = h\n user = u\n deliver = mbox:/m\n}\n",
     "t.conf:1: account \"a\": missing required option \"password\" or "
     "\"password_command\""},
    {"both password and password_command",
     "# c\n" HEAD REQ " password = \"p\"\n}\n",
     "t.conf:2: account \"a\": \"password\" and \"password_command\" "
     "exclude each other"},
    {"option set twice", HEAD REQ " host = \"other\"\n}\n",
     "t.conf:6: account \"a\": option \"host\" is set twice"},
    {"global option set twice", "log_level = info\nlog_level = debug\n" MIN,
     "t.conf:2: option \"log_level\" is set twice"},
    {"unset ${VAR} gives an empty host",
     HEAD " host = \"${MAILHAUL_TEST_UNSET}\"\n user = u\n password = p\n"
	  " deliver = mbox:/m\n}\n",
     "t.conf:2: account \"a\": option \"host\" is empty"},
    {"unset ${VAR} gives an empty password",
     HEAD " host = h\n user = u\n password = \"${MAILHAUL_TEST_UNSET}\"\n"
	  " deliver = mbox:/m\n}\n",
     "t.conf:4: account \"a\": option \"password\" is empty"},
    {"empty user",
     HEAD " host = h\n user = \"\"\n password = p\n"
	  " deliver = mbox:/m\n}\n",
     "t.conf:3: account \"a\": option \"user\" is empty"},
    {"empty state_file", "state_file = \"${MAILHAUL_TEST_UNSET}\"\n" MIN,
     "t.conf:1: option \"state_file\" is empty"},
    {"bad protocol", HEAD REQ " protocol = pop4\n}\n",
     "t.conf:6: account \"a\": invalid protocol \"pop4\" (expected pop3 "
     "or imap)"},
    {"bad tls", HEAD REQ " tls = ssl\n}\n",
     "t.conf:6: account \"a\": invalid tls \"ssl\" (expected implicit, "
     "starttls or none)"},
    {"bad log_level", "log_level = loud\n" MIN,
     "t.conf:1: invalid log_level \"loud\" (expected error, warn, info "
     "or debug)"},
    {"port 0", HEAD REQ " port = 0\n}\n",
     "t.conf:6: account \"a\": port 0 is out of range (1 to 65535)"},
    {"port 65536", HEAD REQ " port = 65536\n}\n",
     "t.conf:6: account \"a\": port 65536 is out of range"},
    {"port not a number", HEAD REQ " port = pop\n}\n",
     "t.conf:6: account \"a\": invalid integer value for option 'port'"},
    {"timeout 0", HEAD REQ " timeout = 0\n}\n",
     "t.conf:6: account \"a\": timeout 0 is out of range (1 to 3600)"},
    {"lock_timeout -1", "lock_timeout = -1\n" MIN,
     "t.conf:1: lock_timeout -1 is out of range (0 to 86400)"},
    {"max_parallel 0", "max_parallel = 0\n" MIN,
     "t.conf:1: max_parallel 0 is out of range (1 to 64)"},
    {"max_parallel 65", "max_parallel = 65\n" MIN,
     "t.conf:1: max_parallel 65 is out of range (1 to 64)"},
    {"timeout 3601", HEAD REQ " timeout = 3601\n}\n",
     "t.conf:6: account \"a\": timeout 3601 is out of range"},
    {"keep not a boolean", HEAD REQ " keep = maybe\n}\n",
     "t.conf:6: account \"a\": invalid boolean value for option 'keep'"},
    {"tls_ca_file missing", HEAD REQ " tls_ca_file = \"/nonexistent/ca\"\n}\n",
     "t.conf:6: account \"a\": tls_ca_file \"/nonexistent/ca\": No such "
     "file or directory"},
    {"tls_ca_file a directory", HEAD REQ " tls_ca_file = \"/\"\n}\n",
     "t.conf:6: account \"a\": tls_ca_file \"/\": not a regular file"},
    {"deliver: unknown scheme",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"pipe:/usr/bin/x\"\n}\n",
     "t.conf:5: account \"a\": deliver: \"pipe:/usr/bin/x\" is not "
     "\"maildir:PATH\", \"mbox:PATH\", \"mboxdir:PATH\" or "
     "\"mda:COMMAND\""},
    {"deliver: mda without a command",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"mda:\"\n}\n",
     "t.conf:5: account \"a\": deliver: \"mda:\" has no command"},
    {"deliver: mda with an unknown escape",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"mda:procmail -d %x\"\n}\n",
     "t.conf:1: account \"a\": deliver: unknown escape \"%x\" in "
     "\"%x\""},
    {"deliver: mda with a lone percent, through the shell",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"mda:procmail 100%\"\n mda_shell = yes\n}\n",
     "t.conf:1: account \"a\": deliver: \"procmail 100%\" ends with a "
     "lone \"%\""},
    {"deliver: mda with an unterminated quote",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"mda:procmail 'x\"\n}\n",
     "t.conf:1: account \"a\": deliver: unterminated ' quote"},
    {"mda_timeout out of range", HEAD REQ " mda_timeout = 0\n}\n",
     "t.conf:6: account \"a\": mda_timeout 0 is out of range (1 to 3600)"},
    {"mda_timeout too large", HEAD REQ " mda_timeout = 3601\n}\n",
     "mda_timeout 3601 is out of range (1 to 3600)"},
    {"mda_shell with a maildir target", HEAD REQ " mda_shell = yes\n}\n",
     "t.conf:1: account \"a\": option \"mda_shell\" applies to \"mda:\" "
     "targets only"},
    {"mda_from_line with a maildir target",
     HEAD REQ " mda_from_line = no\n}\n",
     "t.conf:1: account \"a\": option \"mda_from_line\" applies to "
     "\"mda:\" targets only"},
    {"mda_timeout with an mbox target",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = mbox:/m\n mda_timeout = 5\n}\n",
     "t.conf:1: account \"a\": option \"mda_timeout\" applies to "
     "\"mda:\" targets only"},
    {"folders on a POP3 account", HEAD REQ " folders = {\"INBOX\"}\n}\n",
     "t.conf:1: account \"a\": option \"folders\" applies to IMAP accounts "
     "only"},
    {"keep_flags on a POP3 account", HEAD REQ " keep_flags = yes\n}\n",
     "option \"keep_flags\" applies to IMAP accounts only"},
    {"move_to on a POP3 account", HEAD REQ " move_to = Trash\n}\n",
     "option \"move_to\" applies to IMAP accounts only"},
    {"bad folder_layout", HEAD REQ " protocol = imap\n folder_layout = deep\n}\n",
     "t.conf:7: account \"a\": invalid folder_layout \"deep\" (expected "
     "flat, maildir++ or tree)"},
    {"folder_layout with an mbox target",
     HEAD " host = h\n user = u\n password = p\n protocol = imap\n"
	  " deliver = \"mbox:/m\"\n folder_layout = tree\n}\n",
     "folder_layout applies to maildir targets only"},
    {"empty folders list", HEAD REQ " protocol = imap\n folders = {}\n}\n",
     "t.conf:1: account \"a\": folders: the list is empty"},
    {"empty folder name", HEAD REQ " protocol = imap\n folders = {\"\"}\n}\n",
     "folders: an empty folder name"},
    {"folder name that is not UTF-8",
     HEAD REQ " protocol = imap\n folders = {\"a\xff\"}\n}\n",
     "folders: folder name \"a\xff\""},
    {"move_to a pattern", HEAD REQ " protocol = imap\n move_to = \"T*\"\n}\n",
     "move_to: \"T*\" is a pattern, not a folder"},
    {"deliver: no scheme",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"/var/mail/x\"\n}\n",
     "t.conf:5: account \"a\": deliver: \"/var/mail/x\" is not"},
    {"deliver: empty path",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"maildir:\"\n}\n",
     "t.conf:5: account \"a\": deliver: \"maildir:\" has no path"},
    {"deliver: empty path after ${VAR}",
     HEAD " host = h\n user = u\n password = p\n"
	  " deliver = \"mbox:${MAILHAUL_TEST_UNSET}\"\n}\n",
     "t.conf:5: account \"a\": deliver: \"mbox:\" has no path"},
    {"password_command: unterminated quote",
     HEAD " host = h\n user = u\n password_command = \"pass 'x\"\n"
	  " deliver = mbox:/m\n}\n",
     "t.conf:4: account \"a\": password_command: unterminated ' quote"},
    {"password_command: only blanks",
     HEAD " host = h\n user = u\n password_command = \"  \"\n"
	  " deliver = mbox:/m\n}\n",
     "t.conf:4: account \"a\": password_command: empty command"},
    {"empty account name", "account \"\" {\n" REQ "}\n",
     "t.conf:1: account \"\": the account name is empty"},
    {"account name with /", "\naccount \"a/b\" {\n" REQ "}\n",
     "t.conf:2: account \"a/b\": the account name must not contain"},
    {"account name with a space", "account \"a b\" {\n" REQ "}\n",
     "t.conf:1: account \"a b\": the account name must not contain"},
    {"account name with a control character", "account \"a\\tb\" {\n" REQ "}\n",
     "the account name must not contain"},
    {"account name ..", "account \"..\" {\n" REQ "}\n",
     "t.conf:1: account \"..\": \"..\" cannot be an account name"},
    {"no account", "log_level = debug\n", "t.conf: no account defined"},
    {"empty file", "", "t.conf: no account defined"},
    {"include of a missing file",
     "include(\"mailhaul-nonexistent.conf\")\n"
     "\n" MIN,
     "t.conf:1: mailhaul-nonexistent.conf: No such file or directory"},
    {"line numbers after # and // comments",
     "# a comment\n# another\n// and another\n\n" HEAD REQ " prot = 1\n}\n",
     "t.conf:10: account \"a\": unknown option \"prot\""},
    {"line numbers after block comments",
     "/* one */\n/* two\n   three */ /* four */\n" HEAD REQ " prot = 1\n}\n",
     "t.conf:9: account \"a\": unknown option \"prot\""},
    {"line numbers after a quoted newline and ${VAR}",
     "state_file = \"${MAILHAUL_TEST_UNSET:-/x}\n\"\n" HEAD REQ
     " prot = 1\n}\n",
     "t.conf:8: account \"a\": unknown option \"prot\""},
    {"a comment inside an option", "# c\n" HEAD " host = # c\n \"h\"\n}\n",
     "t.conf:3: account \"a\": unexpected token"},
    {"block line with the brace on its own line",
     "# c\naccount \"a\"\n\n{\n host = h\n}\n",
     "t.conf:2: account \"a\": missing required option \"user\""},
    /* retention options */
    {"delete_after: unknown unit", HEAD REQ " delete_after = 30x\n}\n",
     "t.conf:6: account \"a\": delete_after: \"30x\" is not a duration "
     "(e.g. 30d, 12h, 1w): unknown unit (s, m, h, d or w)"},
    {"delete_after: no unit", HEAD REQ " delete_after = 30\n}\n",
     "t.conf:6: account \"a\": delete_after: \"30\" is not a duration "
     "(e.g. 30d, 12h, 1w): missing unit (s, m, h, d or w)"},
    {"delete_after: negative", HEAD REQ " delete_after = \"-1d\"\n}\n",
     "t.conf:6: account \"a\": delete_after: \"-1d\" is not a duration "
     "(e.g. 30d, 12h, 1w): expected a number"},
    {"delete_after: a blank inside", HEAD REQ " delete_after = \"1w 3d\"\n}\n",
     "t.conf:6: account \"a\": delete_after: \"1w 3d\" is not a "
     "duration"},
    {"delete_after: more than 100 years", HEAD REQ " delete_after = 5300w\n}\n",
     "t.conf:6: account \"a\": delete_after: \"5300w\" is longer than 100 "
     "years"},
    {"delete_after: empty after ${VAR}",
     HEAD REQ " delete_after = \"${MAILHAUL_TEST_UNSET}\"\n}\n",
     "t.conf:6: account \"a\": option \"delete_after\" is empty"},
    {"delete_after set twice",
     HEAD REQ " delete_after = 1d\n"
	      " delete_after = 2d\n}\n",
     "t.conf:7: account \"a\": option \"delete_after\" is set twice"},
    {"max_server_size: unknown unit", HEAD REQ " max_server_size = 5X\n}\n",
     "t.conf:6: account \"a\": max_server_size: \"5X\" is not a size "
     "(e.g. 500M, 25MB, 2G): unknown unit (K, M, G or T)"},
    {"max_server_size: a fraction", HEAD REQ " max_server_size = \"1.5G\"\n}\n",
     "t.conf:6: account \"a\": max_server_size: \"1.5G\" is not a size"},
    {"skip_larger_than: not a number", HEAD REQ " skip_larger_than = big\n}\n",
     "t.conf:6: account \"a\": skip_larger_than: \"big\" is not a size "
     "(e.g. 500M, 25MB, 2G): expected a number"},
    {"skip_larger_than: too large",
     HEAD REQ " skip_larger_than = 99999999999T\n}\n",
     "t.conf:6: account \"a\": skip_larger_than: \"99999999999T\" is not "
     "a size (e.g. 500M, 25MB, 2G): value too large"},
    {"fetch_size_limit: a unit before the number",
     HEAD REQ " fetch_size_limit = M100\n}\n",
     "t.conf:6: account \"a\": fetch_size_limit: \"M100\" is not a size"},
    {"fetch_limit: negative", HEAD REQ " fetch_limit = -1\n}\n",
     "t.conf:6: account \"a\": fetch_limit: -1 is negative (a number of "
     "messages per poll; 0: no limit)"},
    {"fetch_limit: not a number", HEAD REQ " fetch_limit = 10M\n}\n",
     "t.conf:6: account \"a\": invalid integer value for option "
     "'fetch_limit'"},
    {"fetch_all: not a boolean", HEAD REQ " fetch_all = always\n}\n",
     "t.conf:6: account \"a\": invalid boolean value for option "
     "'fetch_all'"},
    /* the defaults block */
    {"a second defaults block",
     "defaults {\n keep = no\n}\n" MIN "\n# c\ndefaults {\n timeout = 5\n}\n",
     "t.conf:12: a second \"defaults\" block (the first is at t.conf:1); "
     "merge them into one"},
    {"defaults with a title", "defaults \"x\" {\n}\n" MIN, "t.conf:1: "},
    {"unknown option in defaults", "# c\ndefaults {\n hots = h\n}\n" MIN,
     "t.conf:3: defaults: unknown option \"hots\""},
    {"a title option in defaults", "defaults {\n name = x\n}\n" MIN,
     "t.conf:2: defaults: unknown option \"name\""},
    {"bad value in defaults", "defaults {\n\n port = 0\n}\n" MIN,
     "t.conf:3: defaults: port 0 is out of range (1 to 65535)"},
    {"bad delete_after in defaults", "defaults {\n delete_after = 1y\n}\n" MIN,
     "t.conf:2: defaults: delete_after: \"1y\" is not a duration (e.g. "
     "30d, 12h, 1w): unknown unit (s, m, h, d or w)"},
    {"bad max_server_size in defaults",
     "defaults {\n keep = no\n max_server_size = 500Q\n}\n" MIN,
     "t.conf:3: defaults: max_server_size: \"500Q\" is not a size"},
    {"option twice in defaults", "defaults {\n keep = no\n keep = yes\n}\n" MIN,
     "t.conf:3: defaults: option \"keep\" is set twice"},
    {"unclosed defaults block", MIN "defaults {\n keep = no\n",
     "t.conf:7: the defaults block has no closing \"}\""},
    {"an account named defaults, unclosed",
     MIN "\naccount defaults {\n host = h\n",
     "t.conf:8: the account block has no closing \"}\""},
    {"an account named defaults is an account",
     MIN "account defaults {\n deliver = mbox:/m\n}\n",
     "t.conf:7: account \"defaults\": missing required option \"host\""},
    {"defaults alone", "defaults {\n keep = no\n}\n",
     "t.conf: no account defined"},
    {"missing host in account and defaults",
     "defaults {\n user = u\n password = p\n}\n"
     "account \"a\" {\n deliver = mbox:/m\n}\n",
     "t.conf:5: account \"a\": missing required option \"host\""},
    {"password and password_command both in defaults",
     "defaults {\n password = p\n password_command = \"pass x\"\n}\n"
     "account \"a\" {\n host = h\n user = u\n deliver = mbox:/m\n}\n",
     "t.conf:1: defaults: \"password\" and \"password_command\" exclude "
     "each other; keep one"},
    {"an empty folders list inherited by an IMAP account",
     "defaults {\n protocol = imap\n folders = {}\n}\n" MIN,
     "t.conf:3: account \"a\": folders: the list is empty"},
    {"the line of an inherited option, not of its value",
     "defaults {\n protocol = imap\n keep = yes\n"
     " folders =\n {\n }\n}\n" MIN,
     "t.conf:4: account \"a\": folders: the list is empty"},
    {"an mda command in defaults with a bad escape",
     "defaults {\n keep = no\n deliver = \"mda:procmail -d %x\"\n}\n"
     "account \"a\" {\n host = h\n user = u\n password = p\n}\n",
     "t.conf:3: account \"a\": deliver: unknown escape \"%x\""},
    {"an mda command in defaults, mda_shell in the account",
     "defaults {\n deliver = \"mda:procmail 100%\"\n}\n"
     "account \"a\" {\n host = h\n user = u\n password = p\n"
     " mda_shell = yes\n}\n",
     "t.conf:2: account \"a\": deliver: \"procmail 100%\" ends with a lone "
     "\"%\""},
    {"an IMAP option in a POP3 account is still refused with defaults",
     "defaults {\n protocol = imap\n}\n" HEAD REQ
     " protocol = pop3\n keep_flags = yes\n}\n",
     "t.conf:4: account \"a\": option \"keep_flags\" applies to IMAP "
     "accounts only"},
    {"line numbers after a defaults block",
     "defaults {\n # c\n keep = no\n}\n" HEAD REQ " prot = 1\n}\n",
     "t.conf:10: account \"a\": unknown option \"prot\""},
};

static void check_error(const struct error_case *c)
{
	char *err = NULL, what[200];
	struct conf *conf = load(c->text, &err);
	bool ok = conf == NULL && err != NULL && strstr(err, c->want) != NULL;

	snprintf(what, sizeof(what), "error: %s", c->what);
	if (!ok) {
		diag("want: ", c->want);
		diag("got:  ", err);
	}
	tap_ok(ok, what);
	free(err);
	conf_free(&conf);
}

static void test_errors(void)
{
	for (size_t i = 0; i < N(error_cases); i++)
		check_error(&error_cases[i]);
}

/* Several problems: several lines, one run. */
static void test_several_errors(void)
{
	char *err = NULL;
	struct conf *conf =
	    load(HEAD " port = 0\n tls = tcp\n}\naccount \"b\" {\n}\n", &err);
	size_t lines = 0;

	for (const char *p = err; p != NULL && *p != '\0'; p++)
		lines += *p == '\n';
	tap_ok(conf == NULL && err != NULL &&
		   strstr(err, "t.conf:2: account \"a\": port 0") &&
		   strstr(err, "t.conf:3: account \"a\": invalid tls") &&
		   strstr(err, "t.conf:1: account \"a\": missing required "
			       "option \"host\"") &&
		   strstr(err, "t.conf:5: account \"b\": missing required "
			       "option \"deliver\""),
	       "several problems are all reported");
	tap_ok(err != NULL && lines >= 8, "one line per problem");
	if (err != NULL)
		diag("", err);
	free(err);
	conf_free(&conf);
}

/* ---- tls_fingerprint ---- */

struct pin_case {
	const char *value;
	bool ok;
	const char *want; /* error substring */
};

#define HEX32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define COL32                                                                  \
	"00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:"   \
	"16:"                                                                  \
	"17:18:19:1A:1B:1C:1D:1E:1F"

static const struct pin_case pin_cases[] = {
    {"sha256:" COL32, true, NULL},
    {"SHA256:" HEX32, true, NULL},
    {COL32, true, NULL},
    {HEX32, true, NULL},
    {"sha256:" HEX32 "20", false, "is not a SHA-256 fingerprint"},
    {"sha256:" COL32 ":20", false, "is not a SHA-256 fingerprint"},
    {"sha256:" COL32 ":", false, "is not a SHA-256 fingerprint"},
    {"sha256:00:01:02", false, "has 3 bytes, a SHA-256 fingerprint has 32"},
    {"sha256:", false, "has 0 bytes"},
    {"sha256:0g" HEX32, false, "is not a SHA-256 fingerprint"},
    {"sha256:00::01" HEX32, false, "is not a SHA-256 fingerprint"},
    {"sha1:" HEX32, false, "is not a SHA-256 fingerprint"},
    {"sha256:001" HEX32, false, "is not a SHA-256 fingerprint"},
};

static void check_pin(const struct pin_case *c)
{
	char text[600], what[300], want[300], *err = NULL;
	struct conf *conf;
	bool ok;

	snprintf(text, sizeof(text), HEAD REQ " tls_fingerprint = \"%s\"\n}\n",
		 c->value);
	conf = load(text, &err);
	if (c->ok) {
		unsigned char pin[32];
		for (int i = 0; i < 32; i++)
			pin[i] = (unsigned char)i;
		ok = conf != NULL && conf->accounts[0].has_pin &&
		     memcmp(conf->accounts[0].pin, pin, 32) == 0;
	} else {
		snprintf(want, sizeof(want),
			 "t.conf:6: account \"a\": tls_fingerprint: ");
		ok = conf == NULL && err != NULL && strstr(err, want) &&
		     strstr(err, c->want);
	}
	if (!ok)
		diag("got: ", err);
	snprintf(what, sizeof(what), "tls_fingerprint \"%.60s\" %s", c->value,
		 c->ok ? "parses" : "is refused");
	tap_ok(ok, what);
	free(err);
	conf_free(&conf);
}

static void test_pins(void)
{
	char *err = NULL;
	struct conf *conf = load(MIN, &err);

	tap_ok(conf != NULL && !conf->accounts[0].has_pin,
	       "no tls_fingerprint: no pin");
	conf_free(&conf);
	for (size_t i = 0; i < N(pin_cases); i++)
		check_pin(&pin_cases[i]);
}

/* ---- retention options ---- */

struct retention_case {
	const char *opts; /* lines for the account block */
	long long delete_after;
	unsigned long long max_server_size, skip_larger_than, fetch_limit,
	    fetch_size_limit;
	bool fetch_all;
};

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

static const struct retention_case retention_cases[] = {
    {"", 0, 0, 0, 0, 0, false},
    {" delete_after = 30d\n max_server_size = 500M\n"
     " skip_larger_than = 25MB\n fetch_limit = 100\n"
     " fetch_size_limit = \"1G\"\n fetch_all = yes\n",
     30 * 86400, 500 * MiB, 25 * MiB, 100, GiB, true},
    {" delete_after = 1w3d\n", 10 * 86400, 0, 0, 0, 0, false},
    {" delete_after = \"90m\"\n", 90 * 60, 0, 0, 0, 0, false},
    {" delete_after = 1h30m15s\n", 5415, 0, 0, 0, 0, false},
    {" delete_after = 0\n max_server_size = 0\n skip_larger_than = 0\n"
     " fetch_limit = 0\n fetch_size_limit = 0\n fetch_all = no\n",
     0, 0, 0, 0, 0, false},
    {" delete_after = 5200w\n", 5200LL * 7 * 86400, 0, 0, 0, 0, false},
    {" max_server_size = 4096\n", 0, 4096, 0, 0, 0, false},
    {" max_server_size = 2g\n skip_larger_than = 512k\n", 0, 2 * GiB, 512 * KiB,
     0, 0, false},
    {" fetch_size_limit = 1TB\n", 0, 0, 0, 0, 1024 * GiB, false},
    {" fetch_limit = 1\n", 0, 0, 0, 1, 0, false},
};

static void check_retention(size_t i, const struct retention_case *c)
{
	char text[1024], what[120], *err = NULL;
	struct conf *conf;
	const struct conf_account *a;

	snprintf(text, sizeof(text), HEAD REQ "%s}\n", c->opts);
	conf = load(text, &err);
	a = conf != NULL ? &conf->accounts[0] : NULL;
	if (err != NULL)
		diag("error: ", err);
	snprintf(what, sizeof(what), "retention case %zu: values", i);
	tap_ok(a != NULL && a->delete_after == c->delete_after &&
		   a->max_server_size == c->max_server_size &&
		   a->skip_larger_than == c->skip_larger_than &&
		   a->fetch_limit == c->fetch_limit &&
		   a->fetch_size_limit == c->fetch_size_limit &&
		   a->fetch_all == c->fetch_all,
	       what);
	if (a != NULL && !(a->delete_after == c->delete_after &&
			   a->max_server_size == c->max_server_size))
		printf("# got delete_after %lld max_server_size %llu\n",
		       a->delete_after, a->max_server_size);
	free(err);
	conf_free(&conf);
}

static void test_retention(void)
{
	for (size_t i = 0; i < N(retention_cases); i++)
		check_retention(i, &retention_cases[i]);
}

/* ---- the defaults block ---- */

/* Loads TEXT, which must parse; says why not. */
static struct conf *load_ok(const char *text, const char *what)
{
	char *err = NULL;
	struct conf *conf = load(text, &err);

	if (conf == NULL) {
		printf("# %s:\n", what);
		diag("error: ", err);
	}
	free(err);
	return conf;
}

static void test_inherit_basic(void)
{
	struct conf *conf =
	    load_ok("account \"a\" {\n deliver = \"maildir:/a\"\n}\n"
		    "defaults {\n host = \"imap.example.com\"\n user = shared\n"
		    " password_command = \"pass mail\"\n protocol = imap\n"
		    " tls = starttls\n keep = no\n delete_after = 30d\n"
		    " max_server_size = 1G\n fetch_all = yes\n timeout = 30\n"
		    " folders = {\"INBOX\", \"Archive\"}\n}\n"
		    "account \"b\" {\n deliver = \"mbox:/b\"\n host = other\n"
		    " keep = yes\n delete_after = 0\n folders = {\"Sent\"}\n"
		    " tls = implicit\n fetch_all = no\n}\n",
		    "inheritance");
	const struct conf_account *a = conf ? conf_find_account(conf, "a") : 0;
	const struct conf_account *b = conf ? conf_find_account(conf, "b") : 0;

	tap_ok(a != NULL && b != NULL && conf->n_accounts == 2,
	       "defaults after an account: two accounts");
	tap_str(a ? a->host : NULL, "imap.example.com",
		"a: host from defaults");
	tap_str(a ? a->user : NULL, "shared", "a: user from defaults");
	tap_str(a ? a->password_command : NULL, "pass mail",
		"a: password_command from defaults");
	tap_ok(a != NULL && a->protocol == CONF_PROTOCOL_IMAP &&
		   a->tls == CONF_TLS_STARTTLS && a->port == 143,
	       "a: imap/starttls from defaults, port defaulted from them");
	tap_ok(a != NULL && !a->keep && a->delete_after == 30 * 86400 &&
		   a->max_server_size == GiB && a->fetch_all &&
		   a->timeout == 30,
	       "a: keep, delete_after, max_server_size, fetch_all, timeout "
	       "from defaults");
	tap_ok(a != NULL && a->n_folders == 2 &&
		   strcmp(a->folders[0], "INBOX") == 0 &&
		   strcmp(a->folders[1], "Archive") == 0,
	       "a: the folders list from defaults");
	tap_str(b ? b->host : NULL, "other", "b: its own host wins");
	tap_str(b ? b->user : NULL, "shared", "b: user from defaults");
	tap_ok(b != NULL && b->keep && b->delete_after == 0 && !b->fetch_all,
	       "b: its own keep = yes, delete_after = 0, fetch_all = no win");
	tap_ok(b != NULL && b->tls == CONF_TLS_IMPLICIT && b->port == 993,
	       "b: its own tls, the port defaulted from the merged result");
	tap_ok(b != NULL && b->max_server_size == GiB && b->timeout == 30,
	       "b: what it does not set still comes from defaults");
	tap_ok(b != NULL && b->n_folders == 1 &&
		   strcmp(b->folders[0], "Sent") == 0,
	       "b: its own folders list replaces the inherited one");
	tap_ok(a != NULL && a->line == 1 && b != NULL && b->line == 17,
	       "account lines are their own blocks' lines");
	conf_free(&conf);
}

/* One defaults block for POP3 and IMAP accounts, Maildir and mda. */
static void test_inherit_kinds(void)
{
	struct conf *conf = load_ok(
	    "defaults {\n host = h\n user = u\n password = p\n"
	    " keep_flags = yes\n folders = {\"INBOX\", \"Lists/*\"}\n"
	    " folder_layout = tree\n mda_shell = yes\n mda_timeout = 5\n"
	    " port = 2000\n}\n"
	    "account \"pop\" {\n deliver = \"maildir:/p\"\n}\n"
	    "account \"imap\" {\n protocol = imap\n deliver = "
	    "\"maildir:/i\"\n}\n"
	    "account \"mbox\" {\n protocol = imap\n deliver = \"mbox:/m\"\n}\n"
	    "account \"mda\" {\n deliver = \"mda:x %u\"\n"
	    " password_command = \"pass x\"\n}\n",
	    "defaults for several kinds");
	const struct conf_account *pop =
	    conf ? conf_find_account(conf, "pop") : 0;
	const struct conf_account *imap =
	    conf ? conf_find_account(conf, "imap") : 0;
	const struct conf_account *mbox =
	    conf ? conf_find_account(conf, "mbox") : 0;
	const struct conf_account *mda =
	    conf ? conf_find_account(conf, "mda") : 0;

	tap_ok(pop != NULL && imap != NULL && mbox != NULL && mda != NULL,
	       "IMAP and mda options in defaults: no error for POP3, mbox "
	       "or Maildir accounts");
	tap_ok(pop != NULL && !pop->keep_flags && pop->n_folders == 1 &&
		   strcmp(pop->folders[0], "INBOX") == 0 &&
		   pop->layout == CONF_LAYOUT_FLAT,
	       "pop: IMAP options of defaults left out");
	tap_ok(pop != NULL && !pop->mda_shell && pop->mda_timeout == 60,
	       "pop: mda options of defaults left out for a Maildir");
	tap_ok(pop != NULL && pop->port == 2000 && imap != NULL &&
		   imap->port == 2000,
	       "port in defaults applies to every account");
	tap_ok(imap != NULL && imap->keep_flags && imap->n_folders == 2 &&
		   imap->layout == CONF_LAYOUT_TREE && !imap->mda_shell,
	       "imap: IMAP options and folder_layout from defaults");
	tap_ok(mbox != NULL && mbox->layout == CONF_LAYOUT_FLAT &&
		   mbox->keep_flags,
	       "mbox: folder_layout of defaults left out, keep_flags kept");
	tap_ok(mda != NULL && mda->mda_shell && mda->mda_timeout == 5,
	       "mda: mda options from defaults");
	tap_ok(mda != NULL && mda->password == NULL && mda->password_command &&
		   strcmp(mda->password_command, "pass x") == 0,
	       "an account's password_command: the password of defaults "
	       "is not inherited");
	tap_str(pop ? pop->password : NULL, "p", "pop: password from defaults");
	conf_free(&conf);
}

static void test_defaults_block(void)
{
	char *err = NULL;
	struct conf *conf;
	const char *p;
	int n = 0;

	test_inherit_basic();
	test_inherit_kinds();
	conf = load_ok(
	    "defaults {\n protocol = imap\n folders = {\"A\"}\n}\n" HEAD REQ
	    " folders += {\"X\"}\n}\n",
	    "+= in an account");
	tap_ok(conf != NULL && conf->accounts[0].n_folders == 2 &&
		   strcmp(conf->accounts[0].folders[0], "INBOX") == 0 &&
		   strcmp(conf->accounts[0].folders[1], "X") == 0,
	       "+= in an account adds to the built-in default, as documented");
	conf_free(&conf);
	conf = load_ok("defaults {\n}\n" MIN, "an empty defaults block");
	tap_ok(conf != NULL && conf->accounts[0].port == 995 &&
		   conf->accounts[0].line == 3,
	       "an empty defaults block changes nothing");
	conf_free(&conf);
	/* Both password options in defaults: said once, not per account. */
	conf = load(
	    "defaults {\n password = p\n password_command = x\n}\n"
	    "account \"a\" {\n host = h\n user = u\n deliver = mbox:/m\n}\n"
	    "account \"b\" {\n host = h\n user = u\n deliver = mbox:/n\n}\n",
	    &err);
	for (p = err; p != NULL && (p = strstr(p, "exclude")) != NULL; p++)
		n++;
	tap_ok(conf == NULL && n == 1,
	       "password and password_command both in defaults: one message");
	if (n != 1)
		diag("got: ", err);
	free(err);
	conf_free(&conf);
}

/* ---- expansion, globals, defaults ---- */

static void test_expansion(void)
{
	char *err = NULL, want[PATH_MAX + 64];
	struct conf *conf = load(
	    "state_file = \"~/state/s.db\"\nlog_level = debug\n"
	    "max_parallel = 3\n" HEAD
	    " host = \"${MAILHAUL_TEST_HOST}\"\n user = u\n"
	    " password_command = \"pass mail\"\n"
	    " deliver = \"maildir:~/Mail\"\n tls_ca_file = \"~/ca.pem\"\n}\n"
	    "account b {\n host = h\n user = u\n password = p\n"
	    " deliver = \"mbox:${HOME}/mbox\"\n}\n",
	    &err);
	const struct conf_account *a = conf ? conf_find_account(conf, "a") : 0;
	const struct conf_account *b = conf ? conf_find_account(conf, "b") : 0;

	if (err != NULL)
		diag("", err);
	tap_ok(a != NULL && b != NULL && conf->n_accounts == 2,
	       "two accounts, found by name");
	tap_ok(conf != NULL && conf_find_account(conf, "c") == NULL,
	       "conf_find_account: unknown name gives NULL");
	snprintf(want, sizeof(want), "%s/Mail", home);
	tap_str(a ? a->target_path : NULL, want, "~ expanded in deliver");
	tap_str(a ? a->deliver : NULL, "maildir:~/Mail",
		"deliver kept as written");
	snprintf(want, sizeof(want), "%s/ca.pem", home);
	tap_str(a ? a->tls_ca_file : NULL, want, "~ expanded in tls_ca_file");
	tap_str(a ? a->host : NULL, "pop.example.org", "${VAR} expanded");
	snprintf(want, sizeof(want), "%s/mbox", home);
	tap_str(b ? b->target_path : NULL, want, "${HOME} expanded");
	tap_ok(b != NULL && b->target == CONF_TARGET_MBOX, "mbox target");
	tap_str(b ? b->password : NULL, "p", "password kept");
	tap_ok(a != NULL && a->password == NULL && b->password_command == NULL,
	       "the unused secret field is NULL");
	snprintf(want, sizeof(want), "%s/state/s.db", home);
	tap_str(conf ? conf->state_file : NULL, want,
		"~ expanded in state_file");
	tap_ok(conf != NULL && conf->log_level == LOG_LEVEL_DEBUG, "log_level");
	tap_ok(conf != NULL && conf->max_parallel == 3, "max_parallel");
	tap_str(conf ? conf->path : NULL, "t.conf", "conf->path");
	free(err);
	conf_free(&conf);
	tap_ok(conf == NULL, "conf_free sets the pointer to NULL");
}

static void test_imap_options(void)
{
	char *err = NULL;
	struct conf *conf = load(HEAD REQ " protocol = imap\n}\n", &err);
	const struct conf_account *a = conf ? &conf->accounts[0] : NULL;

	tap_ok(a != NULL && a->n_folders == 1 &&
		   strcmp(a->folders[0], "INBOX") == 0,
	       "imap: folders default to {INBOX}");
	tap_ok(a != NULL && a->layout == CONF_LAYOUT_FLAT && !a->keep_flags &&
		   !a->expunge_without_uidplus && a->move_to == NULL,
	       "imap: layout flat, no flags, no expunge, no move_to");
	conf_free(&conf);
	free(err);
	conf = load(HEAD " host = h\n user = u\n password = p\n"
		    " protocol = imap\n deliver = \"mboxdir:~/mail\"\n"
		    " folders = {\"INBOX\", \"Lists/*\", \"Entw\xc3\xbcrfe\"}\n"
		    " keep_flags = yes\n expunge_without_uidplus = yes\n"
		    " move_to = \"Trash\"\n}\n",
		    &err);
	a = conf ? &conf->accounts[0] : NULL;
	if (a == NULL)
		diag("error: ", err);
	tap_ok(a != NULL && a->target == CONF_TARGET_MBOXDIR &&
		   strncmp(a->target_path, home, strlen(home)) == 0,
	       "imap: mboxdir target, ~ expanded");
	tap_ok(a != NULL && a->n_folders == 3 &&
		   strcmp(a->folders[1], "Lists/*") == 0 &&
		   strcmp(a->folders[2], "Entw\xc3\xbcrfe") == 0,
	       "imap: folders list kept in order, UTF-8 as written");
	tap_ok(a != NULL && a->keep_flags && a->expunge_without_uidplus &&
		   a->move_to != NULL && strcmp(a->move_to, "Trash") == 0,
	       "imap: keep_flags, expunge_without_uidplus, move_to");
	conf_free(&conf);
	free(err);
	conf = load(HEAD REQ " protocol = imap\n folder_layout = \"maildir++\"\n}\n",
		    &err);
	tap_ok(conf != NULL && conf->accounts[0].layout == CONF_LAYOUT_MAILDIRPP,
	       "imap: folder_layout maildir++");
	conf_free(&conf);
	free(err);
}

static void test_defaults(void)
{
	char *err = NULL, *p, want[PATH_MAX + 64];
	struct conf *conf;

	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");
	conf = load(MIN, &err);
	snprintf(want, sizeof(want), "%s/.local/state/mailhaul/state.db", home);
	tap_str(conf ? conf->state_file : NULL, want, "default state_file");
	tap_ok(conf != NULL && conf->log_level == LOG_LEVEL_INFO,
	       "default log_level is info");
	tap_ok(conf != NULL && conf->max_parallel == CONF_MAX_PARALLEL_DEFAULT,
	       "default max_parallel");
	conf_free(&conf);
	p = conf_default_path();
	snprintf(want, sizeof(want), "%s/.config/mailhaul/mailhaul.conf", home);
	tap_str(p, want, "default config path");
	free(p);
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	p = conf_default_state_file();
	tap_str(p, "/xdg/state/mailhaul/state.db", "XDG_STATE_HOME");
	free(p);
	p = conf_default_path();
	tap_str(p, "/xdg/config/mailhaul/mailhaul.conf", "XDG_CONFIG_HOME");
	free(p);
	unsetenv("XDG_STATE_HOME");
	unsetenv("XDG_CONFIG_HOME");
	tap_str(conf_protocol_name(CONF_PROTOCOL_POP3), "pop3", "pop3 name");
	tap_str(conf_protocol_name(CONF_PROTOCOL_IMAP), "imap", "imap name");
	tap_str(conf_tls_name(CONF_TLS_STARTTLS), "starttls", "starttls name");
	tap_str(conf_tls_name(CONF_TLS_NONE), "none", "none name");
}

/* ---- files: permissions and includes ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || util_write_all(fd, text, strlen(text)) < 0 ||
	    fchmod(fd, mode) < 0 || close(fd) < 0) {
		perror(path);
		exit(1);
	}
}

/* Loads the file PATH; returns 0 or -1, with *err_r on failure. */
static int load_file(const char *path, char **err_r)
{
	struct conf *conf = NULL;
	int r;

	*err_r = NULL;
	r = conf_load(path, &conf, err_r);
	conf_free(&conf);
	return r;
}

static const char pw_conf[] = HEAD " host = h\n user = u\n password = "
				   "\"s3cret\"\n deliver = mbox:/m\n}\n";

static void check_refused(const char *path, const char *want, const char *what)
{
	char *err = NULL, full[1024];
	int r = load_file(path, &err);

	snprintf(full, sizeof(full), "%s: contains a password but %s", path,
		 want);
	if (r == 0 || err == NULL || strstr(err, full) == NULL) {
		diag("want: ", full);
		diag("got:  ", err);
	}
	tap_ok(r < 0 && err != NULL && strstr(err, full) != NULL, what);
	free(err);
}

static void check_accepted(const char *path, const char *what)
{
	char *err = NULL;
	int r = load_file(path, &err);

	if (r < 0)
		diag("", err);
	tap_ok(r == 0, what);
	free(err);
}

/* Loads PATH, which must fail with WANT among the messages. */
static void check_load_error(const char *path, const char *want,
			     const char *what)
{
	char *err = NULL;
	int r = load_file(path, &err);

	if (err == NULL || strstr(err, want) == NULL) {
		diag("want: ", want);
		diag("got:  ", err);
	}
	tap_ok(r < 0 && err != NULL && strstr(err, want) != NULL, what);
	free(err);
}

static void test_permissions_mode(const char *path)
{
	char chmod_msg[512];

	snprintf(chmod_msg, sizeof(chmod_msg),
		 "is readable by others; run: chmod 600 %s", path);
	write_file(path, pw_conf, 0644);
	check_refused(path, chmod_msg, "0644 with a password: refused");
	write_file(path, pw_conf, 0640);
	check_refused(path, chmod_msg, "0640 with a password: refused");
	write_file(path, pw_conf, 0604);
	check_refused(path, chmod_msg, "0604 with a password: refused");
	write_file(path, pw_conf, 0600);
	check_accepted(path, "0600 with a password: accepted");
	write_file(path, pw_conf, 0400);
	check_accepted(path, "0400 with a password: accepted");
	write_file(path, MIN, 0644);
	check_accepted(path, "0644 without a password: accepted");
}

static void test_permissions_owner(const char *path)
{
	write_file(path, pw_conf, 0600);
	if (geteuid() != 0 || chown(path, 65534, 65534) != 0) {
		tap_ok(1, "# SKIP the owner check needs root");
		return;
	}
	check_refused(path, "is owned by another user (uid 65534); run: chown",
		      "owned by another user: refused, saying chown");
	if (chown(path, 0, 0) != 0)
		perror("chown");
}

/* include(): relative to the including file, absolute works too, and an
 * included file holding a password must be private as well. */
static void test_include(const char *path)
{
	char inc[256], text[512], want[1024];

	snprintf(inc, sizeof(inc), "%s/inc.conf", home);
	write_file(inc, pw_conf, 0644);
	write_file(path, "include(\"inc.conf\")\n", 0644);
	snprintf(want, sizeof(want),
		 "%s: contains a password but is readable by others; run: "
		 "chmod 600 %s",
		 inc, inc);
	check_load_error(path, want,
			 "included 0644 file with a password: refused");
	write_file(inc, pw_conf, 0600);
	check_accepted(path, "included 0600 file with a password: accepted");
	snprintf(text, sizeof(text), "include(\"%s\")\n", inc);
	write_file(path, text, 0600);
	check_accepted(path, "include() of an absolute path");
	write_file(inc, "\n\n" HEAD " bogus = 1\n}\n", 0600);
	write_file(path, "# c\ninclude(\"inc.conf\")\nlog_level = x\n", 0600);
	snprintf(want, sizeof(want),
		 "%s:4: account \"a\": unknown option \"bogus\"", inc);
	check_load_error(path, want,
			 "an error in an included file names it and its line");
	write_file(inc, "\n\n" MIN, 0600);
	snprintf(want, sizeof(want), "%s:3: invalid log_level \"x\"", path);
	check_load_error(path, want, "line numbers go on after an include");
	unlink(inc);
}

static const char pw_defaults[] = "defaults {\n password = \"s3cret\"\n"
				  " host = h\n}\n";
static const char pw_account[] = "account \"a\" {\n user = u\n"
				 " deliver = mbox:/m\n}\n";

/* A password in defaults makes its file secret, included or not. */
static void test_defaults_files(const char *path)
{
	char inc[256], text[512], want[1024], *err = NULL;
	struct conf *conf = NULL;

	snprintf(text, sizeof(text), "%s%s", pw_defaults, pw_account);
	write_file(path, text, 0644);
	snprintf(want, sizeof(want), "is readable by others; run: chmod 600 %s",
		 path);
	check_refused(path, want, "0644 with a password in defaults: refused");
	write_file(path, text, 0600);
	tap_ok(conf_load(path, &conf, &err) == 0 &&
		   conf->accounts[0].password != NULL &&
		   strcmp(conf->accounts[0].password, "s3cret") == 0,
	       "0600 with a password in defaults: the account inherits it");
	if (err != NULL)
		diag("", err);
	conf_free(&conf);
	free(err);

	snprintf(inc, sizeof(inc), "%s/defaults.conf", home);
	write_file(inc, pw_defaults, 0644);
	snprintf(text, sizeof(text), "include(\"defaults.conf\")\n%s",
		 pw_account);
	write_file(path, text, 0600);
	snprintf(want, sizeof(want),
		 "%s: contains a password but is readable by others", inc);
	check_load_error(path, want,
			 "included 0644 defaults with a password: refused");
	write_file(inc, pw_defaults, 0600);
	check_accepted(path, "included 0600 defaults with a password: "
			     "accepted");

	write_file(inc,
		   "# c\ndefaults {\n keep = no\n"
		   " deliver = \"mda:x %x\"\n port = 0\n}\n",
		   0600);
	write_file(path,
		   "include(\"defaults.conf\")\naccount a {\n host = h\n"
		   " user = u\n password_command = p\n}\n",
		   0600);
	snprintf(want, sizeof(want), "%s:5: defaults: port 0 is out of range",
		 inc);
	check_load_error(path, want,
			 "a bad value in included defaults names its file");
	snprintf(want, sizeof(want),
		 "%s:4: account \"a\": deliver: unknown escape", inc);
	check_load_error(path, want,
			 "an account's problem with an inherited option names "
			 "the included file and the option's line");

	write_file(inc, "defaults {\n keep = no\n}\n", 0600);
	snprintf(text, sizeof(text),
		 "include(\"defaults.conf\")\n%s\ndefaults {\n}\n", MIN);
	write_file(path, text, 0600);
	snprintf(want, sizeof(want),
		 "%s:9: a second \"defaults\" block (the first is at %s:1)",
		 path, inc);
	check_load_error(path, want,
			 "defaults in an included file and in the main one: "
			 "refused");
	unlink(inc);
}

static void test_files(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/mailhaul.conf", home);
	test_permissions_mode(path);
	test_permissions_owner(path);
	test_include(path);
	test_defaults_files(path);
	unlink(path);
}

static void test_missing_file(void)
{
	char *err = NULL, path[256], want[512];
	int r;

	snprintf(path, sizeof(path), "%s/nonexistent.conf", home);
	r = load_file(path, &err);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	tap_ok(r < 0 && err != NULL && strcmp(err, want) == 0,
	       "missing config file");
	free(err);
	r = load_file(home, &err);
	tap_ok(r < 0 && err != NULL && strstr(err, "not a regular file"),
	       "a directory is not a config file");
	free(err);
}

/* ---- the sample config shipped in etc/ ---- */

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (fp == NULL)
		return NULL;
	buf = xmalloc(1024 * 1024);
	len = fread(buf, 1, 1024 * 1024 - 1, fp);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/* The sample with its defaults block and its retention examples
 * uncommented: they must be valid too.  Caller frees. */
static char *sample_uncommented(const char *text)
{
	static const char *const options[] = {
	    "delete_after", "max_server_size",	"skip_larger_than",
	    "fetch_limit",  "fetch_size_limit", "fetch_all",
	};
	struct util_str out = {0};
	bool in_defaults = false;

	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p + 1) : strlen(p);
		const char *hash = p[0] == '\t' ? p + 1 : p;
		bool uncomment = in_defaults;
		if (strncmp(p, "#defaults {", 11) == 0)
			uncomment = in_defaults = true;
		else if (in_defaults && strncmp(p, "#}", 2) == 0)
			in_defaults = false;
		for (size_t i = 0; i < N(options); i++)
			if (hash[0] == '#' &&
			    strncmp(hash + 1, options[i], strlen(options[i])) ==
				0 &&
			    hash[1 + strlen(options[i])] == ' ')
				uncomment = true;
		if (uncomment && hash[0] == '#') {
			util_str_add(&out, p, (size_t)(hash - p));
			util_str_add(&out, hash + 1,
				     len - (size_t)(hash + 1 - p));
		} else {
			util_str_add(&out, p, len);
		}
		p += len;
	}
	return out.p;
}

static void test_sample_examples(const char *text)
{
	char *full = text != NULL ? sample_uncommented(text) : NULL;
	char *err = NULL;
	struct conf *conf = NULL;
	const struct conf_account *a;

	if (full != NULL && conf_load_string("sample", full, &conf, &err) < 0)
		diag("", err);
	a = conf != NULL ? &conf->accounts[0] : NULL;
	tap_ok(full != NULL && strstr(full, "\ndefaults {\n") != NULL &&
		   strstr(full, "\n\tdelete_after = ") != NULL,
	       "the sample has a defaults block and retention examples");
	tap_ok(a != NULL && a->delete_after == 30 * 86400 &&
		   a->max_server_size == 500 * MiB &&
		   a->skip_larger_than == 25 * MiB && a->fetch_limit == 500 &&
		   a->fetch_size_limit == 100 * MiB && !a->fetch_all,
	       "the sample's retention examples parse, uncommented");
	tap_ok(a != NULL && a->timeout == 30,
	       "the sample's defaults block parses, uncommented, and applies");
	conf_free(&conf);
	free(err);
	free(full);
}

static void test_sample(void)
{
	const char *srcdir = getenv("MAILHAUL_SRCDIR");
	char path[PATH_MAX], *text, *err = NULL;
	struct conf *conf = NULL;

	snprintf(path, sizeof(path), "%s/etc/mailhaul.conf.sample",
		 srcdir != NULL ? srcdir : "../..");
	if (srcdir == NULL && access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "etc/mailhaul.conf.sample");
	text = read_text(path);
	tap_ok(text != NULL, "the sample config is readable");
	if (text != NULL && conf_load_string(path, text, &conf, &err) < 0)
		diag("", err);
	tap_ok(conf != NULL && conf->n_accounts >= 1,
	       "the sample config parses");
	tap_ok(conf != NULL && conf->accounts[0].password == NULL &&
		   conf->accounts[0].password_command != NULL,
	       "the sample's account uses password_command");
	tap_ok(conf != NULL && conf->accounts[0].port == 995 &&
		   conf->accounts[0].tls == CONF_TLS_IMPLICIT &&
		   conf->accounts[0].keep,
	       "the sample's account shows the defaults");
	conf_free(&conf);
	free(err);
	err = NULL;
	test_sample_examples(text);
	free(text);
	tap_ok(load_file(path, &err) == 0, "conf_load accepts the sample file");
	if (err != NULL)
		diag("", err);
	free(err);
}

static void setup_home(void)
{
	char tmpl[] = "/tmp/mailhaul-test-conf.XXXXXX";
	char ca[256];

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(home, sizeof(home), "%s", tmpl);
	setenv("HOME", home, 1);
	setenv("MAILHAUL_TEST_HOST", "pop.example.org", 1);
	unsetenv("MAILHAUL_TEST_UNSET");
	snprintf(ca, sizeof(ca), "%s/ca.pem", home);
	write_file(ca, "not really a certificate\n", 0644);
}

static void cleanup_home(void)
{
	char ca[256];

	snprintf(ca, sizeof(ca), "%s/ca.pem", home);
	unlink(ca);
	rmdir(home);
}

/* ---- mda: targets ---- */

static void test_mda(void)
{
	static const struct {
		const char *text, *command;
		bool shell, from_line;
		int timeout;
	} cases[] = {
	    {HEAD " host = h\n user = \"joe doe\"\n password = p\n"
		  " deliver = \"mda:/usr/bin/procmail -d %u\"\n}\n",
	     "/usr/bin/procmail -d %u",
	     false, false, 60},
	    {HEAD " host = h\n user = u\n password = p\n"
		  " deliver = \"MDA:~/bin/deliver %f >> ~/log\"\n"
		  " mda_shell = yes\n mda_from_line = yes\n"
		  " mda_timeout = 3600\n}\n",
	     "~/bin/deliver %f >> ~/log",
	     true, true, 3600},
	    {HEAD " host = h\n user = u\n password = p\n"
		  " deliver = \"mda:x 'a b' %%\"\n mda_timeout = 1\n}\n",
	     "x 'a b' %%",
	     false, false, 1},
	};
	for (size_t i = 0; i < N(cases); i++) {
		char *err = NULL, what[80];
		struct conf *conf = load(cases[i].text, &err);
		const struct conf_account *a =
		    conf != NULL ? &conf->accounts[0] : NULL;
		snprintf(what, sizeof(what), "mda case %zu: loads", i);
		if (err != NULL)
			diag("error: ", err);
		tap_ok(a != NULL && a->target == CONF_TARGET_MDA, what);
		snprintf(what, sizeof(what), "mda case %zu: command as written",
			 i);
		tap_str(a != NULL ? a->target_path : NULL, cases[i].command,
			what);
		snprintf(what, sizeof(what), "mda case %zu: options", i);
		tap_ok(a != NULL && a->mda_shell == cases[i].shell &&
			   a->mda_from_line == cases[i].from_line &&
			   a->mda_timeout == cases[i].timeout,
		       what);
		free(err);
		conf_free(&conf);
	}
}

int main(void)
{
	setup_home();
	test_imap_options();
	test_valid();
	test_mda();
	test_errors();
	test_several_errors();
	test_retention();
	test_defaults_block();
	test_pins();
	test_expansion();
	test_defaults();
	test_files();
	test_missing_file();
	test_sample();
	cleanup_home();
	return tap_done();
}
