/* SPDX-License-Identifier: ISC */
/* Folder names to local paths: every layout, INBOX and what lies under it,
 * separators other than '/', escapes, and every refusal with its error. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folder.h"
#include "sink.h"
#include "tap.h"

#define MD CONF_TARGET_MAILDIR
#define MBOX CONF_TARGET_MBOX
#define MBOXDIR CONF_TARGET_MBOXDIR
#define FLAT CONF_LAYOUT_FLAT
#define PP CONF_LAYOUT_MAILDIRPP
#define TREE CONF_LAYOUT_TREE
#define MF SINK_OPEN_MAILDIRFOLDER

struct ok_case {
	enum conf_target target;
	enum conf_layout layout;
	const char *display;
	char sep;
	const char *path;
	unsigned flags;
};

/* Entwürfe, 日本語 */
#define ENTW "Entw\u00fcrfe" /* UTF-8: C3 BC */
#define NIHON "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"

static const struct ok_case oks[] = {
    /* flat and mbox: one target, every name accepted */
    {MD, FLAT, "INBOX", '/', "/m", 0},
    {MD, FLAT, "Lists/dev", '/', "/m", 0},
    {MD, FLAT, "", '\0', "/m", 0},
    {MD, FLAT, "../../etc", '/', "/m", 0},
    {MD, FLAT, "a\x01z", '/', "/m", 0},
    {MBOX, FLAT, "Lists/dev", '/', "/m", 0},
    {MBOX, TREE, "../x", '/', "/m", 0},
    {MBOX, PP, "", '\0', "/m", 0},

    /* maildir++ */
    {MD, PP, "INBOX", '/', "/m", 0},
    {MD, PP, "inbox", '/', "/m", 0},
    {MD, PP, "InBoX", '.', "/m", 0},
    {MD, PP, "", '\0', "/m", 0},
    {MD, PP, "", '/', "/m", 0},
    {MD, PP, "Sent", '/', "/m/.Sent", MF},
    {MD, PP, "Lists/dev", '/', "/m/.Lists.dev", MF},
    {MD, PP, "Lists.dev", '.', "/m/.Lists.dev", MF},
    {MD, PP, "Lists\\dev", '\\', "/m/.Lists.dev", MF},
    {MD, PP, "a.b/c", '/', "/m/.a\\2eb.c", MF},
    {MD, PP, ".hidden", '/', "/m/.\\2ehidden", MF},
    {MD, PP, "...", '/', "/m/.\\2e\\2e\\2e", MF},
    {MD, PP, "a\\2eb", '/', "/m/.a\\5c2eb", MF},
    {MD, PP, "a.b", '\0', "/m/.a\\2eb", MF},
    {MD, PP, "x/y/z", '/', "/m/.x.y.z", MF},
    {MD, PP, ENTW, '/', "/m/." ENTW, MF},
    {MD, PP, "Lists/" NIHON, '/', "/m/.Lists." NIHON, MF},
    {MD, PP, "Tom & Jerry", '/', "/m/.Tom & Jerry", MF},
    {MD, PP, "INBOX/Sent", '/', "/m/.Sent", MF},
    {MD, PP, "INBOX.Sent", '.', "/m/.Sent", MF},
    {MD, PP, "inbox.Lists.dev", '.', "/m/.Lists.dev", MF},
    {MD, PP, "INBOX.Sent", '/', "/m/.INBOX\\2eSent", MF},
    {MD, PP, "INBOXES", '/', "/m/.INBOXES", MF},
    {MD, PP, "Lists/INBOX", '/', "/m/.Lists.INBOX", MF},
    {MD, PP, "cur", '/', "/m/.cur", MF},
    {MD, PP, "x.lock", '/', "/m/.x\\2elock", MF},

    /* tree */
    {MD, TREE, "INBOX", '/', "/m", 0},
    {MD, TREE, "Inbox", '/', "/m", 0},
    {MD, TREE, "", '\0', "/m", 0},
    {MD, TREE, "Sent", '/', "/m/Sent", 0},
    {MD, TREE, "Lists/dev", '/', "/m/Lists/dev", 0},
    {MD, TREE, "Lists.dev", '.', "/m/Lists/dev", 0},
    {MD, TREE, "a.b/c", '/', "/m/a.b/c", 0},
    {MD, TREE, "a.b", '\0', "/m/a.b", 0},
    {MD, TREE, ".hidden", '/', "/m/.hidden", 0},
    {MD, TREE, "...", '/', "/m/...", 0},
    {MD, TREE, "a\\b", '/', "/m/a\\b", 0},
    {MD, TREE, ENTW "/" NIHON, '/', "/m/" ENTW "/" NIHON, 0},
    {MD, TREE, "INBOX/Sent", '/', "/m/Sent", 0},
    {MD, TREE, "INBOX.Lists.dev", '.', "/m/Lists/dev", 0},
    {MD, TREE, "Lists/cur.d", '/', "/m/Lists/cur.d", 0},
    {MD, TREE, "Cur", '/', "/m/Cur", 0},
    {MD, TREE, "x.lock", '/', "/m/x.lock", 0},

    /* mboxdir */
    {MBOXDIR, FLAT, "INBOX", '/', "/m/INBOX", 0},
    {MBOXDIR, TREE, "inbox", '.', "/m/INBOX", 0},
    {MBOXDIR, PP, "", '\0', "/m/INBOX", 0},
    {MBOXDIR, FLAT, "Sent", '/', "/m/Sent", 0},
    {MBOXDIR, FLAT, "Lists/dev", '/', "/m/Lists/dev", 0},
    {MBOXDIR, FLAT, "Lists.dev", '.', "/m/Lists/dev", 0},
    {MBOXDIR, FLAT, "a.b", '/', "/m/a.b", 0},
    {MBOXDIR, FLAT, "INBOX/Sent", '/', "/m/Sent", 0},
    {MBOXDIR, FLAT, "INBOX.Sent", '.', "/m/Sent", 0},
    {MBOXDIR, FLAT, "cur", '/', "/m/cur", 0},
    {MBOXDIR, FLAT, ENTW, '/', "/m/" ENTW, 0},
    {MBOXDIR, FLAT, "lock", '/', "/m/lock", 0},
    {MBOXDIR, FLAT, "x.locks", '/', "/m/x.locks", 0},
};

struct bad_case {
	enum conf_target target;
	enum conf_layout layout;
	const char *display;
	char sep;
	const char *err;
};

static const struct bad_case bads[] = {
    /* empty parts */
    {MD, PP, "/Lists", '/',
     "folder \"/Lists\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MD, TREE, "Lists/", '/',
     "folder \"Lists/\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MBOXDIR, FLAT, "Lists//dev", '/',
     "folder \"Lists//dev\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MD, PP, ".Lists", '.',
     "folder \".Lists\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MD, PP, "INBOX/", '/',
     "folder \"INBOX/\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MD, TREE, "INBOX..x", '.',
     "folder \"INBOX..x\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MD, PP, "/", '/',
     "folder \"/\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    /* "." and ".." */
    {MD, TREE, "..", '/',
     "folder \"..\": the name part \"..\" would leave the target"},
    {MD, TREE, "Lists/../x", '/',
     "folder \"Lists/../x\": the name part \"..\" would leave the target"},
    {MD, PP, "Lists/..", '/',
     "folder \"Lists/..\": the name part \"..\" would leave the target"},
    {MBOXDIR, FLAT, "../etc/passwd", '/',
     "folder \"../etc/passwd\": the name part \"..\" would leave the "
     "target"},
    {MBOXDIR, FLAT, "INBOX/..", '/',
     "folder \"INBOX/..\": the name part \"..\" would leave the target"},
    {MD, TREE, "..", '\0',
     "folder \"..\": the name part \"..\" would leave the target"},
    {MD, TREE, "a/./b", '/',
     "folder \"a/./b\": the name part \".\" would name its parent folder"},
    {MBOXDIR, FLAT, ".", '/',
     "folder \".\": the name part \".\" would name its parent folder"},
    {MD, PP, ".", '\0',
     "folder \".\": the name part \".\" would name its parent folder"},
    /* '/' inside a part */
    {MD, TREE, "a/b", '.', "folder \"a/b\": '/' inside the name part \"a/b\""},
    {MD, TREE, "x.../etc", '.',
     "folder \"x.../etc\": an empty name part \"\" (leading, trailing or "
     "doubled separator)"},
    {MBOXDIR, FLAT, "x.a/../../etc", '.',
     "folder \"x.a/../../etc\": '/' inside the name part \"a/\""},
    {MD, PP, "Lists/dev", '.',
     "folder \"Lists/dev\": '/' inside the name part \"Lists/dev\""},
    {MD, TREE, "/etc", '\0',
     "folder \"/etc\": '/' inside the name part \"/etc\" (the server has "
     "no hierarchy)"},
    {MBOXDIR, FLAT, "a/b", '\\',
     "folder \"a/b\": '/' inside the name part \"a/b\""},
    {MD, PP, "INBOX.a/b", '.',
     "folder \"INBOX.a/b\": '/' inside the name part \"a/b\""},
    /* control characters */
    {MD, PP, "a\nb", '/',
     "folder \"a\\x0ab\": a control character in the name part "
     "\"a\\x0ab\""},
    {MD, TREE, "Lists/\x1b[2J", '/',
     "folder \"Lists/\\x1b[2J\": a control character in the name part "
     "\"\\x1b[2J\""},
    {MBOXDIR, FLAT, "del\x7f", '/',
     "folder \"del\\x7f\": a control character in the name part "
     "\"del\\x7f\""},
    {MD, PP, "c1\xc2\x85x", '/',
     "folder \"c1\\xc2\\x85x\": a control character in the name part "
     "\"c1\\xc2\\x85x\""},
    {MD, TREE, "\t", '/',
     "folder \"\\x09\": a control character in the name part \"\\x09\""},
    /* INBOX under INBOX */
    {MD, PP, "INBOX/INBOX", '/',
     "folder \"INBOX/INBOX\": the name part \"INBOX\" under INBOX would be "
     "taken for INBOX itself"},
    {MBOXDIR, FLAT, "inbox.Inbox.x", '.',
     "folder \"inbox.Inbox.x\": the name part \"Inbox\" under INBOX would "
     "be taken for INBOX itself"},
    /* tree: the Maildir's own directories */
    {MD, TREE, "cur", '/',
     "folder \"cur\": the name part \"cur\" would be taken for a "
     "Maildir's own directory"},
    {MD, TREE, "Lists/new", '/',
     "folder \"Lists/new\": the name part \"new\" would be taken for a "
     "Maildir's own directory"},
    {MD, TREE, "tmp.x", '.',
     "folder \"tmp.x\": the name part \"tmp\" would be taken for a "
     "Maildir's own directory"},
    {MD, TREE, "INBOX/tmp", '/',
     "folder \"INBOX/tmp\": the name part \"tmp\" would be taken for a "
     "Maildir's own directory"},
    /* mboxdir: dotlock names */
    {MBOXDIR, FLAT, "x.lock", '/',
     "folder \"x.lock\": the name part \"x.lock\" would be taken for a "
     "dotlock"},
    {MBOXDIR, FLAT, "Lists/dev.lock/y", '/',
     "folder \"Lists/dev.lock/y\": the name part \"dev.lock\" would be "
     "taken for a dotlock"},
    {MBOXDIR, FLAT, "INBOX.lock", '/',
     "folder \"INBOX.lock\": the name part \"INBOX.lock\" would be taken "
     "for a dotlock"},
    {MBOXDIR, FLAT, ".lock", '/',
     "folder \".lock\": the name part \".lock\" would be taken for a "
     "dotlock"},
};

static const char *target_name(enum conf_target t)
{
	return t == MD ? "maildir" : t == MBOX ? "mbox" : "mboxdir";
}

static const char *layout_name(enum conf_layout l)
{
	return l == FLAT ? "flat" : l == PP ? "maildir++" : "tree";
}

/* Prints the case's description into WHAT: control bytes in hex. */
static void describe(char *what, size_t len, enum conf_target t,
		     enum conf_layout l, const char *display, char sep)
{
	int n = snprintf(what, len, "%s %s sep '%s' \"", target_name(t),
			 t == MD ? layout_name(l) : "-",
			 sep == '\0' ? "none" : (char[]){sep, '\0'});
	for (const char *p = display; *p != '\0' && n + 8 < (int)len; p++) {
		unsigned char c = (unsigned char)*p;
		n += snprintf(what + n, len - (size_t)n,
			      c < 0x20 || c >= 0x7f ? "\\x%02x" : "%c", c);
	}
	snprintf(what + n, len - (size_t)n, "\"");
}

static void test_oks(void)
{
	for (size_t i = 0; i < sizeof(oks) / sizeof(oks[0]); i++) {
		const struct ok_case *c = &oks[i];
		char what[256], *path = NULL, *err = NULL;
		unsigned flags = 12345;
		describe(what, sizeof(what), c->target, c->layout, c->display,
			 c->sep);
		int r = folder_target(c->target, c->layout, "/m", c->display,
				      c->sep, &path, &flags, &err);
		if (r != 0)
			printf("# %s\n", err);
		tap_str(r == 0 ? path : NULL, c->path, what);
		if (r == 0 && flags != c->flags)
			printf("# flags %u, want %u\n", flags, c->flags);
		tap_ok(r == 0 && flags == c->flags && err == NULL,
		       "  and its open flags");
		free(path);
		free(err);
	}
}

static void test_bads(void)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad_case *c = &bads[i];
		char what[256], *path = NULL, *err = NULL;
		unsigned flags = 12345;
		describe(what, sizeof(what), c->target, c->layout, c->display,
			 c->sep);
		int r = folder_target(c->target, c->layout, "/m", c->display,
				      c->sep, &path, &flags, &err);
		tap_str(r == -1 ? err : NULL, c->err, what);
		tap_ok(r == -1 && path == NULL && flags == 12345,
		       "  refused, nothing else set");
		free(path);
		free(err);
	}
}

/* BASE is used as written; one ending in '/' gets no second one. */
static void test_bases(void)
{
	static const struct {
		enum conf_target target;
		enum conf_layout layout;
		const char *base, *display, *want;
	} cases[] = {
	    {MD, PP, "/m/", "Sent", "/m/.Sent"},
	    {MD, TREE, "Mail", "Sent", "Mail/Sent"},
	    {MD, TREE, "/m/", "INBOX", "/m/"},
	    {MBOXDIR, FLAT, "/m/", "INBOX", "/m/INBOX"},
	    {MBOXDIR, FLAT, "rel/dir", "a/b", "rel/dir/a/b"},
	    {MBOXDIR, FLAT, "/", "Sent", "/Sent"},
	    {MD, FLAT, "", "Sent", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = NULL, *err = NULL, what[128];
		unsigned flags;
		snprintf(what, sizeof(what), "base \"%s\" + \"%s\"",
			 cases[i].base, cases[i].display);
		int r = folder_target(cases[i].target, cases[i].layout,
				      cases[i].base, cases[i].display, '/',
				      &path, &flags, &err);
		tap_str(r == 0 ? path : NULL, cases[i].want, what);
		free(path);
		free(err);
	}
	char *path = NULL, *err = NULL;
	unsigned flags;
	tap_ok(folder_target(MD, PP, "", "Sent", '/', &path, &flags, &err) ==
		       -1 &&
		   path == NULL,
	       "an empty base is refused where a path is made");
	tap_str(err, "folder: the target path is empty", "  with its error");
	free(err);
}

int main(void)
{
	test_oks();
	test_bads();
	test_bases();
	return tap_done();
}
