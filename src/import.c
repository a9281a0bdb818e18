/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "import.h"
#include "lock.h"
#include "log.h"
#include "mutf7.h"
#include "state.h"
#include "util.h"

/* sysexits codes of the command's own failures. */
#define IMPORT_EX_USAGE 64
#define IMPORT_EX_DATAERR 65
#define IMPORT_EX_NOINPUT 66

/* A state file bigger than this is not one of these formats. */
#define IMPORT_MAX_FILE (512UL * 1024 * 1024)

static const char *const import_names[] = {
	[IMPORT_FETCHMAIL] = "fetchmail",
	[IMPORT_MPOP] = "mpop",
	[IMPORT_GETMAIL] = "getmail",
};

int import_format_parse(const char *name, enum import_format *f_r)
{
	for (size_t i = 0; i < sizeof(import_names) / sizeof(*import_names);
	     i++)
		if (strcmp(name, import_names[i]) == 0) {
			*f_r = (enum import_format)i;
			return 0;
		}
	return -1;
}

const char *import_format_name(enum import_format f)
{
	return import_names[f];
}

bool import_uidl_valid(const char *s, size_t len)
{
	if (len < 1 || len > 70)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* --- parsing --- */

/* The parser's view of one file. */
struct import_parse {
	struct import_file *f;
	unsigned line;
	/* mpop: the list being read and how many UIDs it still lacks */
	struct import_group *open;
	long missing;
};

static char *parse_error(struct import_parse *p, const char *what)
{
	return xasprintf("%s:%u: %s", p->f->path, p->line, what);
}

static void skip_invalid(struct import_parse *p)
{
	if (p->f->invalid++ == 0)
		p->f->first_invalid = p->line;
}

/* Returns the group of HOST and USER (NULL for getmail), adding it. */
static struct import_group *group_of(struct import_file *f,
				     enum conf_protocol proto,
				     const char *host, size_t host_len,
				     const char *user, size_t user_len)
{
	for (size_t i = 0; i < f->n_groups; i++) {
		struct import_group *g = &f->groups[i];
		if (host == NULL ||
		    (strlen(g->host) == host_len &&
		     strncasecmp(g->host, host, host_len) == 0 &&
		     strlen(g->user) == user_len &&
		     memcmp(g->user, user, user_len) == 0))
			return g;
	}
	f->groups = xrealloc(f->groups, (f->n_groups + 1) * sizeof(*f->groups));
	struct import_group *g = &f->groups[f->n_groups++];
	*g = (struct import_group){.protocol = proto};
	if (host != NULL) {
		g->host = xstrndup(host, host_len);
		g->user = xstrndup(user, user_len);
	}
	return g;
}

static void group_add(struct import_group *g, const char *uid, size_t len,
		      uint64_t uidvalidity, time_t when)
{
	g->entries = xrealloc(g->entries, (g->n + 1) * sizeof(*g->entries));
	g->entries[g->n++] = (struct import_entry){
	    .uid = xstrndup(uid, len), .uidvalidity = uidvalidity,
	    .when = when};
}

/* Adds a POP3 UIDL to G, or counts it as invalid. */
static void add_uidl(struct import_parse *p, struct import_group *g,
		     const char *uid, size_t len)
{
	if (import_uidl_valid(uid, len))
		group_add(g, uid, len, 0, 0);
	else
		skip_invalid(p);
}

static size_t span_blank(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t span_word(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

/* fetchmail writes "REMOTEUSER@HOST UIDL" per line; the user may hold an
 * '@' itself, the host cannot, and fetchmail reads the UIDL up to the
 * next blank. */
static int fetchmail_line(struct import_parse *p, const char *s, size_t len,
			  char **err_r)
{
	size_t i = span_blank(s, len);
	if (i == len)
		return 0;
	size_t w = span_word(s + i, len - i);
	const char *who = s + i, *at = NULL;
	for (size_t k = 0; k < w; k++)
		if (who[k] == '@')
			at = who + k;
	if (at == NULL || at == who || at == who + w - 1) {
		*err_r = parse_error(p, "expected \"USER@HOST UIDL\"");
		return -1;
	}
	i += w;
	i += span_blank(s + i, len - i);
	size_t u = span_word(s + i, len - i);
	if (u == 0) {
		*err_r = parse_error(p, "no UIDL after USER@HOST");
		return -1;
	}
	struct import_group *g =
	    group_of(p->f, CONF_PROTOCOL_POP3, at + 1,
		     (size_t)(who + w - at - 1), who, (size_t)(at - who));
	add_uidl(p, g, s + i, u);
	return 0;
}

/* mpop starts each list with " COUNT HOST USER" and follows it with
 * COUNT UIDLs, one a line; '#' lines are comments. */
static int mpop_header(struct import_parse *p, const char *s, size_t len,
		       char **err_r)
{
	char buf[32];
	size_t i = 1, w = span_word(s + i, len - i);
	char *end;

	if (w == 0 || w >= sizeof(buf)) {
		*err_r = parse_error(p, "invalid number of UIDs");
		return -1;
	}
	memcpy(buf, s + i, w);
	buf[w] = '\0';
	errno = 0;
	long n = strtol(buf, &end, 10);
	if (*end != '\0' || n < 1 || errno != 0 || buf[0] == '+' ||
	    buf[0] == '-' || i + w >= len || s[i + w] != ' ') {
		*err_r = parse_error(p, "invalid number of UIDs");
		return -1;
	}
	i += w + 1;
	size_t h = span_word(s + i, len - i);
	if (h == 0 || i + h >= len || s[i + h] != ' ') {
		*err_r = parse_error(p, "invalid or missing host name");
		return -1;
	}
	const char *user = s + i + h + 1;
	size_t ul = len - i - h - 1;
	if (ul == 0 || span_word(user, ul) != ul) {
		*err_r = parse_error(p, "invalid or missing user name");
		return -1;
	}
	p->open = group_of(p->f, CONF_PROTOCOL_POP3, s + i, h, user, ul);
	p->missing = n;
	return 0;
}

static int mpop_line(struct import_parse *p, const char *s, size_t len,
		     char **err_r)
{
	if (p->open == NULL) {
		if (len > 0 && s[0] == '#')
			return 0;
		if (len == 0 || s[0] != ' ') {
			*err_r = parse_error(p, "UID without a list (expected "
						"\" COUNT HOST USER\")");
			return -1;
		}
		return mpop_header(p, s, len, err_r);
	}
	if (len > 0 && s[0] == '#')
		return 0;
	if (len > 0 && s[0] == ' ') {
		*err_r = parse_error(p, "a new list before the last one has "
					"all its UIDs");
		return -1;
	}
	add_uidl(p, p->open, s, len);
	if (--p->missing == 0)
		p->open = NULL;
	return 0;
}

/* A decimal number in 1..MAX, digits only. */
static bool parse_number(const char *s, size_t len, uint64_t max,
			 uint64_t *n_r)
{
	uint64_t n = 0;
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (n < 1 || n > max)
		return false;
	*n_r = n;
	return true;
}

/* An IMAP "UIDVALIDITY/UID" message id of getmail; before getmail 4.22
 * "UIDVALIDITY/MAILBOX/UID". */
static void getmail_imap_id(struct import_parse *p, struct import_group *g,
			    const char *id, size_t len, time_t when)
{
	const char *slash = memchr(id, '/', len);
	const char *last = slash;
	for (const char *c = slash + 1; c < id + len; c++)
		if (*c == '/')
			last = c;
	uint64_t v, u;
	if (!parse_number(id, (size_t)(slash - id), UINT32_MAX, &v) ||
	    !parse_number(last + 1, (size_t)(id + len - last - 1), UINT32_MAX,
			  &u)) {
		skip_invalid(p);
		return;
	}
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, u);
	group_add(g, buf, strlen(buf), v, when);
}

/* getmail writes "MSGID\0TIMESTAMP" per line: MSGID is the UIDL (POP3,
 * '/' written as '-') or UIDVALIDITY/UID (IMAP). */
static int getmail_line(struct import_parse *p, const char *s, size_t len,
			char **err_r)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	size_t i = span_blank(s, len);
	s += i;
	len -= i;
	if (len == 0)
		return 0;
	const char *nul = memchr(s, '\0', len);
	uint64_t when;
	if (nul == NULL ||
	    !parse_number(nul + 1, (size_t)(s + len - nul - 1), INT64_MAX,
			  &when)) {
		*err_r = parse_error(p, "expected \"MSGID\\0TIMESTAMP\"");
		return -1;
	}
	size_t idlen = (size_t)(nul - s), slashes = 0;
	for (size_t k = 0; k < idlen; k++)
		slashes += s[k] == '/';
	enum conf_protocol proto =
	    slashes == 0 ? CONF_PROTOCOL_POP3 : CONF_PROTOCOL_IMAP;
	if (slashes > 2) {
		*err_r = parse_error(p, "message id with more than two '/'");
		return -1;
	}
	struct import_group *g = group_of(p->f, proto, NULL, 0, NULL, 0);
	if (g->protocol != proto) {
		*err_r = parse_error(p, "POP3 and IMAP message ids mixed");
		return -1;
	}
	if (proto == CONF_PROTOCOL_IMAP)
		getmail_imap_id(p, g, s, idlen, (time_t)when);
	else if (import_uidl_valid(s, idlen))
		group_add(g, s, idlen, 0, (time_t)when);
	else
		skip_invalid(p);
	return 0;
}

static int parse_line(struct import_parse *p, const char *s, size_t len,
		      char **err_r)
{
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (p->f->format != IMPORT_GETMAIL && memchr(s, '\0', len) != NULL) {
		*err_r = parse_error(p, "NUL byte: not a text file");
		return -1;
	}
	switch (p->f->format) {
	case IMPORT_FETCHMAIL:
		return fetchmail_line(p, s, len, err_r);
	case IMPORT_MPOP:
		return mpop_line(p, s, len, err_r);
	case IMPORT_GETMAIL:
		return getmail_line(p, s, len, err_r);
	}
	return 0;
}

int import_parse(enum import_format fmt, const char *path, const char *text,
		 size_t len, struct import_file **file_r, char **err_r)
{
	struct import_file *f = xcalloc(1, sizeof(*f));
	struct import_parse p = {.f = f};
	const char *s = text, *end = text + len;

	f->format = fmt;
	f->path = xstrdup(path);
	const char *slash = strrchr(f->path, '/');
	f->base = slash != NULL ? slash + 1 : f->path;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *eol = nl != NULL ? nl : end;
		p.line++;
		if (parse_line(&p, s, (size_t)(eol - s), err_r) < 0)
			goto fail;
		s = nl != NULL ? nl + 1 : end;
	}
	if (p.open != NULL) {
		*err_r = xasprintf("%s:%u: too few UIDs for user %s, host %s "
				   "(the file ends %ld short)",
				   path, p.line, p.open->user, p.open->host,
				   p.missing);
		goto fail;
	}
	if (p.line == 0) {
		*err_r = xasprintf("%s: the file is empty: nothing to import",
				   path);
		goto fail;
	}
	if (f->n_groups == 0) {
		*err_r = xasprintf("%s:%u: no message identifiers: not a %s "
				   "state file, or an empty one",
				   path, p.line, import_names[fmt]);
		goto fail;
	}
	*file_r = f;
	return 0;
fail:
	import_file_free(&f);
	return -1;
}

void import_file_free(struct import_file **fp)
{
	struct import_file *f = *fp;
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_groups; i++) {
		struct import_group *g = &f->groups[i];
		for (size_t k = 0; k < g->n; k++)
			free(g->entries[k].uid);
		free(g->entries);
		free(g->host);
		free(g->user);
	}
	free(f->groups);
	free(f->path);
	free(f);
	*fp = NULL;
}

/* --- matching --- */

/* getmail's file names: runs of / \ : ; < > | become REPL. */
static char *getmail_strip(const char *s, char repl)
{
	static const char special[] = "/\\:;<>|";
	char *out = xmalloc(strlen(s) + 1), *o = out;
	bool in_run = false;

	for (; *s != '\0'; s++) {
		bool sp = strchr(special, *s) != NULL;
		if (!sp)
			*o++ = *s;
		else if (!in_run)
			*o++ = repl;
		in_run = sp;
	}
	*o = '\0';
	return out;
}

/* getmail names its file "oldmail-SERVER-PORT-USER" (POP3) and adds
 * "-MAILBOX" for each IMAP folder. */
static bool getmail_matches(const struct import_file *file,
			    const struct import_group *g,
			    const struct conf_account *a, const char **suffix_r)
{
	char *raw = xasprintf("oldmail-%s-%u-%s", a->host, a->port, a->user);
	char *prefix = getmail_strip(raw, '-');
	size_t n = strlen(prefix);
	bool ok;

	free(raw);
	if (g->protocol == CONF_PROTOCOL_POP3) {
		ok = strcmp(file->base, prefix) == 0;
	} else {
		ok = strncmp(file->base, prefix, n) == 0 &&
		     file->base[n] == '-' && file->base[n + 1] != '\0';
		if (ok && suffix_r != NULL)
			*suffix_r = file->base + n + 1;
	}
	free(prefix);
	return ok;
}

bool import_group_matches(const struct import_file *file,
			  const struct import_group *g,
			  const struct conf_account *a, const char **suffix_r)
{
	if (suffix_r != NULL)
		*suffix_r = NULL;
	if (g->protocol != a->protocol)
		return false;
	if (file->format == IMPORT_GETMAIL)
		return getmail_matches(file, g, a, suffix_r);
	return strcasecmp(g->host, a->host) == 0 &&
	       strcmp(g->user, a->user) == 0;
}

/* Is NAME a LIST pattern rather than a folder name? */
static bool is_pattern(const char *name)
{
	return strpbrk(name, "*%") != NULL;
}

/* The configured folder whose getmail spelling is SUFFIX, if exactly one
 * is; NULL otherwise. */
static const char *configured_folder(const struct conf_account *a,
				     const char *suffix, size_t *n_r)
{
	const char *found = NULL;
	*n_r = 0;
	for (size_t i = 0; i < a->n_folders; i++) {
		if (is_pattern(a->folders[i]))
			continue;
		char *s = getmail_strip(a->folders[i], '.');
		if (strcmp(s, suffix) == 0) {
			found = a->folders[i];
			(*n_r)++;
		}
		free(s);
	}
	return *n_r == 1 ? found : NULL;
}

int import_getmail_folder(const struct import_file *file,
			  const struct conf_account *a, const char *suffix,
			  const char *given, char **folder_r, char **err_r)
{
	const char *name = given;
	size_t n = 0;

	if (name == NULL && suffix == NULL) {
		*err_r = xasprintf("%s: the file name does not say which "
				   "folder of account %s it is for; name it "
				   "with --folder",
				   file->path, a->name);
		return -1;
	}
	if (name != NULL && suffix != NULL) {
		char *s = getmail_strip(name, '.');
		bool same = strcmp(s, suffix) == 0;
		free(s);
		if (!same) {
			*err_r = xasprintf("%s: the file is for folder \"%s\", "
					   "not \"%s\"",
					   file->path, suffix, name);
			return -1;
		}
	}
	if (name == NULL && strchr(suffix, '.') == NULL)
		name = suffix;
	if (name == NULL && (name = configured_folder(a, suffix, &n)) == NULL) {
		*err_r = xasprintf("%s: the folder \"%s\" in the file name may "
				   "stand for several names (getmail writes "
				   "'.' for '/'), and %s of account %s's "
				   "folders match it; name it with --folder",
				   file->path, suffix, n == 0 ? "none" : "several",
				   a->name);
		return -1;
	}
	return mutf7_encode(name, folder_r, err_r);
}

/* --- the command --- */

/* Reads PATH into *text_r (caller frees).  0, or -1 with *err_r. */
static int read_file(const char *path, char **text_r, size_t *len_r,
		     char **err_r)
{
	FILE *fp = fopen(path, "rb");
	struct util_str s = {0};
	char buf[65536];
	size_t n;

	if (fp == NULL) {
		*err_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		util_str_add(&s, buf, n);
		if (s.len > IMPORT_MAX_FILE)
			break;
	}
	int bad = ferror(fp), e = errno;
	fclose(fp);
	if (bad || s.len > IMPORT_MAX_FILE) {
		*err_r = bad ? xasprintf("%s: %s", path, strerror(e))
			     : xasprintf("%s: larger than %lu bytes: not a "
					 "state file",
					 path, IMPORT_MAX_FILE);
		free(s.p);
		return -1;
	}
	util_str_add(&s, "", 0);
	*text_r = s.p;
	*len_r = s.len;
	return 0;
}

/* Says in one line what group G is, for errors: "alice@pop.example.com"
 * (caller frees). */
static char *group_name(const struct import_file *f,
			const struct import_group *g)
{
	if (f->format == IMPORT_GETMAIL)
		return xasprintf("%s (%s)", f->base,
				 conf_protocol_name(g->protocol));
	return xasprintf("%s@%s (%s)", g->user, g->host,
			 conf_protocol_name(g->protocol));
}

static char *groups_text(const struct import_file *f)
{
	struct util_str s = {0};
	for (size_t i = 0; i < f->n_groups; i++) {
		char *n = group_name(f, &f->groups[i]);
		if (i > 0)
			util_str_add(&s, ", ", 2);
		util_str_add(&s, n, strlen(n));
		free(n);
	}
	return s.p;
}

static bool account_matches(const struct import_file *f,
			    const struct conf_account *a)
{
	for (size_t i = 0; i < f->n_groups; i++)
		if (import_group_matches(f, &f->groups[i], a, NULL))
			return true;
	return false;
}

/* Picks the account: -a NAME, else the one configured account the file
 * matches.  NULL after an error line. */
static const struct conf_account *pick_account(const struct conf *conf,
					       const struct cli *cli,
					       const struct import_file *f)
{
	if (cli->n_accounts == 1)
		return conf_find_account(conf, cli->accounts[0]);
	const struct conf_account *found = NULL;
	struct util_str names = {0};
	size_t n = 0;
	for (size_t i = 0; i < conf->n_accounts; i++) {
		const struct conf_account *a = &conf->accounts[i];
		if (!account_matches(f, a))
			continue;
		if (n++ > 0)
			util_str_add(&names, ", ", 2);
		util_str_add(&names, a->name, strlen(a->name));
		found = a;
	}
	char *what = groups_text(f);
	if (n == 0)
		log_error(NULL, "import: %s: no configured account matches "
				"%s; use -a NAME",
			  f->path, what);
	else if (n > 1)
		log_error(NULL, "import: %s: several accounts match %s: %s; "
				"use -a NAME",
			  f->path, what, names.p);
	free(what);
	free(names.p);
	return n == 1 ? found : NULL;
}

/* The groups of F to import into A: those that match it; with -a, also
 * the only group of a file whose host or user is spelt otherwise (the
 * user said which account it is).  NULL after an error line. */
static bool *pick_groups(const struct import_file *f,
			 const struct conf_account *a)
{
	bool *use = xcalloc(f->n_groups, sizeof(*use));
	size_t n = 0;
	for (size_t i = 0; i < f->n_groups; i++)
		if (import_group_matches(f, &f->groups[i], a, NULL))
			use[i] = true, n++;
	if (n == 0 && f->n_groups == 1 &&
	    f->groups[0].protocol == a->protocol)
		use[0] = true, n++;
	if (n == 0) {
		char *what = groups_text(f);
		log_error(a->name, "import: %s: nothing in it is for this %s "
				   "account (%s@%s): it holds %s",
			  f->path, conf_protocol_name(a->protocol), a->user,
			  a->host, what);
		free(what);
		free(use);
		return NULL;
	}
	return use;
}

/* The records to write for group G into account A. */
static int group_items(const struct import_file *f,
		       const struct import_group *g,
		       const struct conf_account *a, const struct cli *cli,
		       struct state_import_item **items, size_t *n,
		       char **folder_r, time_t now, char **err_r)
{
	const char *suffix = NULL;
	char *folder = NULL;

	if (g->protocol == CONF_PROTOCOL_IMAP) {
		import_group_matches(f, g, a, &suffix);
		if (import_getmail_folder(f, a, suffix, cli->folder, &folder,
					  err_r) < 0)
			return -1;
	}
	*folder_r = folder;
	*items = xrealloc(*items, (*n + g->n + 1) * sizeof(**items));
	for (size_t k = 0; k < g->n; k++) {
		const struct import_entry *e = &g->entries[k];
		(*items)[(*n)++] = (struct state_import_item){
		    .key = {.account = a->name,
			    .folder = folder != NULL ? folder : "",
			    .uidvalidity = e->uidvalidity,
			    .uid = e->uid,
			    .size = 0},
		    .first_archived = e->when != 0 ? e->when : now};
	}
	return 0;
}

/* Writes ITEMS under A's lock, as a poll would hold it. */
static int write_locked(const struct conf *conf, const struct conf_account *a,
			const char *origin,
			const struct state_import_item *items, size_t n,
			uint64_t *added_r)
{
	struct lock *lock = NULL;
	struct state *st = NULL;
	char *err = NULL;
	int r;

	switch (lock_account(conf->state_file, a->name, conf->lock_timeout,
			     &lock, &err)) {
	case LOCK_TAKEN:
		break;
	case LOCK_BUSY:
		log_error(a->name, "import: %s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_TEMP);
	case LOCK_ERROR:
		log_error(a->name, "import: %s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	if (state_open(conf->state_file, &st, &err) < 0 ||
	    state_import_batch(st, origin, items, n, added_r, &err) < 0) {
		log_error(a->name, "import: %s", err);
		free(err);
		r = util_fail_exit_code(UTIL_FAIL_LOCAL);
	} else {
		r = 0;
	}
	state_close(&st);
	lock_release(&lock);
	return r;
}

/* Imports F into A.  Returns the exit status. */
static int import_into(const struct conf *conf, const struct cli *cli,
		       const struct import_file *f,
		       const struct conf_account *a)
{
	bool *use = pick_groups(f, a);
	struct state_import_item *items = NULL;
	char **folders = xcalloc(f->n_groups + 1, sizeof(*folders));
	size_t n = 0;
	uint64_t added = 0;
	char *err = NULL;
	int r = 0;

	if (use == NULL)
		r = util_fail_exit_code(UTIL_FAIL_CONFIG);
	for (size_t i = 0; r == 0 && i < f->n_groups; i++) {
		if (use[i] &&
		    group_items(f, &f->groups[i], a, cli, &items, &n,
				&folders[i], time(NULL), &err) < 0) {
			log_error(a->name, "import: %s", err);
			free(err);
			r = util_fail_exit_code(UTIL_FAIL_CONFIG);
		}
	}
	if (r == 0)
		r = write_locked(conf, a, import_names[f->format], items, n,
				 &added);
	if (r == 0) {
		if (f->invalid > 0)
			log_warn(a->name, "import: %s: skipped %" PRIu64
					  " invalid message identifiers (the "
					  "first on line %u)",
				 f->path, f->invalid, f->first_invalid);
		printf("imported %" PRIu64 " records for account %s from %s "
		       "(%" PRIu64 " were known already)\n",
		       added, a->name, f->path, (uint64_t)n - added);
		fflush(stdout);
	}
	for (size_t i = 0; i < f->n_groups; i++)
		free(folders[i]);
	free(folders);
	free(items);
	free(use);
	return r;
}

int import_run(const struct conf *conf, const struct cli *cli)
{
	enum import_format fmt;
	struct import_file *f = NULL;
	char *text = NULL, *err = NULL;
	size_t len;
	int r;

	if (cli->from == NULL || cli->n_args != 1 || cli->n_accounts > 1 ||
	    import_format_parse(cli->from, &fmt) < 0) {
		fputs("usage: mailhaul import --from fetchmail|mpop|getmail "
		      "[-a NAME] [--folder NAME] FILE\n",
		      stderr);
		return IMPORT_EX_USAGE;
	}
	if (read_file(cli->args[0], &text, &len, &err) < 0) {
		log_error(NULL, "import: %s", err);
		free(err);
		return IMPORT_EX_NOINPUT;
	}
	if (import_parse(fmt, cli->args[0], text, len, &f, &err) < 0) {
		log_error(NULL, "import: %s", err);
		free(err);
		free(text);
		return IMPORT_EX_DATAERR;
	}
	free(text);
	const struct conf_account *a = pick_account(conf, cli, f);
	r = a != NULL ? import_into(conf, cli, f, a)
		      : util_fail_exit_code(UTIL_FAIL_CONFIG);
	import_file_free(&f);
	return r;
}
