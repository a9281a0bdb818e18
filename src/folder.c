/* SPDX-License-Identifier: ISC */
/* Server folder names to local paths.  A name comes from a server, so
 * nothing in it may reach outside the target: every name part is checked
 * before any of it becomes a path, and parts are joined by us, never by
 * passing the server's text through. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "folder.h"
#include "sink.h"
#include "util.h"

/* The folder being mapped, and how. */
struct folder {
	enum conf_target target;
	enum conf_layout layout;
	const char *display;
	char sep;
};

/* Returns the length of the control character at P (N bytes left): 1 for
 * C0 and DEL, 2 for C1 (U+0080..U+009F, C2 80..C2 9F in UTF-8), else 0. */
static size_t control_len(const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];

	if (c < 0x20 || c == 0x7f)
		return 1;
	if (c == 0xc2 && n >= 2 && (unsigned char)p[1] >= 0x80 &&
	    (unsigned char)p[1] <= 0x9f)
		return 2;
	return 0;
}

/* Returns a malloc'd copy of the N bytes at S fit for an error line:
 * control characters as \xNN, so a hostile name can neither forge log
 * lines nor move a terminal's cursor. */
static char *folder_show(const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *out = xmalloc(4 * n + 1), *o = out;

	for (size_t i = 0; i < n;) {
		size_t k = control_len(s + i, n - i);
		if (k == 0)
			*o++ = s[i++];
		for (; k > 0; k--, i++) {
			unsigned char c = (unsigned char)s[i];
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* Sets *err_r to 'folder "NAME": WHY "PART"TAIL'; returns -1. */
static int folder_refuse(const struct folder *f, const char *why,
			 const char *part, size_t part_len, const char *tail,
			 char **err_r)
{
	char *name = folder_show(f->display, strlen(f->display));
	char *shown = folder_show(part, part_len);

	*err_r =
	    xasprintf("folder \"%s\": %s \"%s\"%s", name, why, shown, tail);
	free(shown);
	free(name);
	return -1;
}

static bool has_control(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (control_len(p + i, n - i) > 0)
			return true;
	return false;
}

static bool part_is(const char *p, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(p, word, n) == 0;
}

static bool part_is_inbox(const char *p, size_t n)
{
	return n == 5 && strncasecmp(p, "INBOX", 5) == 0;
}

/* The refusals that hold in every layout that makes paths. */
static int check_common(const struct folder *f, const char *p, size_t n,
			char **err_r)
{
	if (n == 0)
		return folder_refuse(f, "an empty name part", "", 0,
				     " (leading, trailing or doubled "
				     "separator)",
				     err_r);
	if (part_is(p, n, ".."))
		return folder_refuse(f, "the name part", p, n,
				     " would leave the target", err_r);
	if (part_is(p, n, "."))
		return folder_refuse(f, "the name part", p, n,
				     " would name its parent folder", err_r);
	if (has_control(p, n))
		return folder_refuse(f, "a control character in the name part",
				     p, n, "", err_r);
	/* With '/' as the separator no part holds one; with any other, a
	 * '/' would make directories the server never had, or leave. */
	if (memchr(p, '/', n) != NULL)
		return folder_refuse(f, "'/' inside the name part", p, n,
				     f->sep == '\0' ? " (the server has no "
						      "hierarchy)"
						    : "",
				     err_r);
	return 0;
}

/* Checks one name part, FIRST when it is the top one (after INBOX/). */
static int check_part(const struct folder *f, const char *p, size_t n,
		      bool first, char **err_r)
{
	if (check_common(f, p, n, err_r) < 0)
		return -1;
	if (first && part_is_inbox(p, n))
		return folder_refuse(f, "the name part", p, n,
				     " under INBOX would be taken for INBOX "
				     "itself",
				     err_r);
	if (f->target == CONF_TARGET_MAILDIR && f->layout == CONF_LAYOUT_TREE &&
	    (part_is(p, n, "cur") || part_is(p, n, "new") ||
	     part_is(p, n, "tmp")))
		return folder_refuse(f, "the name part", p, n,
				     " would be taken for a Maildir's own "
				     "directory",
				     err_r);
	/* The mbox sink's dotlock for "X" is "X.lock": a folder of that
	 * name would be locked out, or taken for a stale lock and deleted. */
	if (f->target == CONF_TARGET_MBOXDIR && n >= 5 &&
	    memcmp(p + n - 5, ".lock", 5) == 0)
		return folder_refuse(f, "the name part", p, n,
				     " would be taken for a dotlock", err_r);
	return 0;
}

/* Returns the length of the part starting at P: up to SEP or the end. */
static size_t part_len(const char *p, char sep)
{
	const char *end = sep != '\0' ? strchr(p, sep) : NULL;

	return end != NULL ? (size_t)(end - p) : strlen(p);
}

/* Checks every part of the name REST (below INBOX or the top). */
static int check_parts(const struct folder *f, const char *rest, char **err_r)
{
	const char *p = rest;

	for (bool first = true;; first = false) {
		size_t n = part_len(p, f->sep);
		if (check_part(f, p, n, first, err_r) < 0)
			return -1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* Returns where the name below INBOX starts in DISPLAY, or NULL for INBOX
 * itself (and for "", a source without folders).  Folders under INBOX are
 * mapped as if INBOX were the top: Courier and Cyrus list every folder as
 * "INBOX.X", which Maildir++ itself stores as ".X". */
static const char *below_inbox(const char *display, char sep)
{
	size_t n = part_len(display, sep);

	if (*display == '\0' || (part_is_inbox(display, n) && !display[n]))
		return NULL;
	return part_is_inbox(display, n) ? display + n + 1 : display;
}

/* Appends the N bytes at P to B (a malloc'd string of *LEN bytes). */
static char *append(char *b, size_t *len, const char *p, size_t n)
{
	b = xrealloc(b, *len + n + 1);
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	return b;
}

/* Returns a malloc'd BASE/, without doubling a '/' BASE ends in. */
static char *base_dir(const char *base, size_t *len_r)
{
	size_t len = strlen(base);
	char *b = xstrdup(base);

	if (base[len - 1] != '/')
		b = append(b, &len, "/", 1);
	*len_r = len;
	return b;
}

/* Returns BASE joined with the checked name REST: Maildir++ ".A.B" with
 * '.' and '\' in a part as "\2e" and "\5c" (so names map one to one), or
 * the directories A/B. */
static char *build_path(const struct folder *f, const char *base,
			const char *rest)
{
	bool pp = f->target == CONF_TARGET_MAILDIR &&
		  f->layout == CONF_LAYOUT_MAILDIRPP;
	size_t len;
	char *b = base_dir(base, &len);

	if (pp)
		b = append(b, &len, ".", 1);
	for (const char *p = rest; *p != '\0'; p++) {
		if (*p == f->sep)
			b = append(b, &len, pp ? "." : "/", 1);
		else if (pp && *p == '.')
			b = append(b, &len, "\\2e", 3);
		else if (pp && *p == '\\')
			b = append(b, &len, "\\5c", 3);
		else
			b = append(b, &len, p, 1);
	}
	return b;
}

int folder_target(enum conf_target target, enum conf_layout layout,
		  const char *base, const char *display, char sep,
		  char **path_r, unsigned *open_flags_r, char **err_r)
{
	const struct folder f = {target, layout, display, sep};
	bool pp =
	    target == CONF_TARGET_MAILDIR && layout == CONF_LAYOUT_MAILDIRPP;
	bool tree = target == CONF_TARGET_MAILDIR && layout == CONF_LAYOUT_TREE;

	/* One target for every folder (flat Maildir, mbox, an MDA's
	 * command): the name never becomes a path. */
	if (!pp && !tree && target != CONF_TARGET_MBOXDIR) {
		*path_r = xstrdup(base);
		*open_flags_r = 0;
		return 0;
	}
	if (*base == '\0') {
		*err_r = xstrdup("folder: the target path is empty");
		return -1;
	}
	const char *rest = below_inbox(display, sep);
	if (rest == NULL) {
		size_t len;
		*path_r = target == CONF_TARGET_MBOXDIR
			      ? append(base_dir(base, &len), &len, "INBOX", 5)
			      : xstrdup(base);
		*open_flags_r = 0;
		return 0;
	}
	if (check_parts(&f, rest, err_r) < 0)
		return -1;
	*path_r = build_path(&f, base, rest);
	*open_flags_r = pp ? SINK_OPEN_MAILDIRFOLDER : 0;
	return 0;
}
