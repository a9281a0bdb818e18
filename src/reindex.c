/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "folder.h"
#include "lock.h"
#include "log.h"
#include "reindex.h"
#include "sink.h"
#include "source.h"
#include "state.h"

/* --- pure parts --- */

/* Returns the end of the header field starting at P: past the line end
 * of its last line (continuation lines start with a space or a tab). */
static size_t field_end(const char *hdr, size_t len, size_t p)
{
	for (;;) {
		const char *nl = memchr(hdr + p, '\n', len - p);
		if (nl == NULL)
			return len;
		p = (size_t)(nl - hdr) + 1;
		if (p == len || (hdr[p] != ' ' && hdr[p] != '\t'))
			return p;
	}
}

size_t reindex_field_starts(const char *hdr, size_t len, size_t *starts,
			    size_t max)
{
	size_t n = 0;

	for (size_t p = 0; p < len && n < max && hdr[p] != '\n';
	     p = field_end(hdr, len, p))
		starts[n++] = p;
	return n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value V[0..LEN) unfolded (line ends dropped) and trimmed; NULL
 * when nothing is left. */
static char *unfold(const char *v, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			out[o++] = v[i];
	while (o > 0 && is_blank(out[o - 1]))
		o--;
	size_t b = 0;
	while (b < o && is_blank(out[b]))
		b++;
	memmove(out, out + b, o - b);
	out[o - b] = '\0';
	if (o == b) {
		free(out);
		return NULL;
	}
	return out;
}

void reindex_message_id(const char *hdr, size_t len, char **id_r)
{
	static const char name[] = "message-id:";
	const size_t nl = sizeof(name) - 1;

	*id_r = NULL;
	for (size_t p = 0; p < len && hdr[p] != '\n';) {
		size_t end = field_end(hdr, len, p);
		if (end - p >= nl && strncasecmp(hdr + p, name, nl) == 0) {
			*id_r = unfold(hdr + p + nl, end - p - nl);
			return;
		}
		p = end;
	}
}

bool reindex_size_fits(uint64_t listed, uint64_t size, uint64_t lf,
		       bool ends_nl)
{
	if (listed == size + lf || listed == size)
		return true;
	/* The line end added on delivery is not the server's. */
	return ends_nl && lf > 0 &&
	       (listed == size + lf - 2 || listed == size - 1);
}

/* Is NAME (up to the colon) a field a fetching tool puts in front of a
 * message: a trace field, or an X- field of its own? */
static bool prepended_name(const char *field, size_t len)
{
	static const char *const names[] = {
	    "received:", "return-path:", "delivered-to:", "x-original-to:",
	    "envelope-to:", "x-"};

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		size_t n = strlen(names[i]);
		if (len >= n && strncasecmp(field, names[i], n) == 0)
			return true;
	}
	return false;
}

/* --- the header section, cut as the session cuts it --- */

/* Feeds the bytes up to and including the first empty line into a hash;
 * an empty first line is the whole section, as TOP n 0, BODY[HEADER] and
 * session.c's header_feed have it. */
struct hcut {
	EVP_MD_CTX *md;
	bool in;
	char last;
	uint64_t n;
};

static void hcut_start(struct hcut *c)
{
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
	c->in = true;
	c->last = '\n';
	c->n = 0;
}

/* Returns how many of the LEN bytes at P belong to the section. */
static size_t hcut_feed(struct hcut *c, const char *p, size_t len)
{
	size_t i;

	if (!c->in)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && c->last == '\n') {
			i++;
			c->in = false;
			break;
		}
		c->last = p[i];
	}
	EVP_DigestUpdate(c->md, p, i);
	c->n += i;
	return i;
}

static void md_final(EVP_MD_CTX *md, unsigned char out[32])
{
	unsigned int len = 0;
	EVP_DigestFinal_ex(md, out, &len);
}

static void md_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char bin[32];
	md_final(md, bin);
	util_hex(bin, 32, out);
}

/* --- the archive --- */

/* One archived copy. */
struct copy {
	char *location;
	uint64_t size, lf;          /* bytes and line ends, as delivered */
	bool ends_nl;
	bool used;                  /* a record points to it */
	char hash[65];              /* of all its bytes */
	char hash_trim[65];         /* of all but a final '\n' ("": none) */
	char header_hash[65];       /* as the session computes it */
	char *msgid;                /* NULL: none */
	/* where its header less K prepended fields starts, and the line
	 * ends before that */
	uint32_t off[REINDEX_PREPENDED_MAX + 1];
	uint32_t off_lf[REINDEX_PREPENDED_MAX + 1];
};

/* The hash of a copy's header section less its first K fields. */
struct hkey {
	unsigned char md[32];
	uint32_t copy;
	uint8_t k;
};

/* One target, scanned once however many folders go there. */
struct archive {
	char *path;
	char *target;               /* "maildir:/path", as session.c */
	struct copy *copies;
	size_t n, cap;
	struct hkey *keys;
	size_t n_keys, cap_keys;
};

/* A scan in progress. */
struct scan_run {
	struct archive *ar;
	EVP_MD_CTX *all;
	struct hcut srv;
	struct util_str hdr;        /* the server's view of the header */
	bool hdr_cut;               /* longer than REINDEX_HEADER_MAX */
	EVP_MD_CTX *trim;
	char held;                  /* the last byte, not hashed yet */
	bool holding;
};

static void add_key(struct archive *ar, const unsigned char md[32], size_t c,
		    unsigned k)
{
	if (ar->n_keys == ar->cap_keys) {
		ar->cap_keys = ar->cap_keys ? ar->cap_keys * 2 : 256;
		ar->keys = xrealloc(ar->keys, ar->cap_keys * sizeof(*ar->keys));
	}
	struct hkey *h = &ar->keys[ar->n_keys++];
	memcpy(h->md, md, 32);
	h->copy = (uint32_t)c;
	h->k = (uint8_t)k;
}

static int scan_begin(void *ctx, const char *location)
{
	struct scan_run *sr = ctx;
	struct archive *ar = sr->ar;

	if (ar->n == ar->cap) {
		ar->cap = ar->cap ? ar->cap * 2 : 256;
		ar->copies = xrealloc(ar->copies, ar->cap * sizeof(*ar->copies));
	}
	struct copy *c = &ar->copies[ar->n++];
	memset(c, 0, sizeof(*c));
	c->location = xstrdup(location);
	EVP_DigestInit_ex(sr->all, EVP_sha256(), NULL);
	hcut_start(&sr->srv);
	sr->hdr.len = 0;
	sr->hdr_cut = false;
	sr->holding = false;
	return 0;
}

static int scan_data(void *ctx, const void *buf, size_t len)
{
	struct scan_run *sr = ctx;
	struct copy *c = &sr->ar->copies[sr->ar->n - 1];
	const char *p = buf;

	if (len == 0)
		return 0;
	/* The last byte waits, for the hash without a final newline. */
	if (sr->holding)
		EVP_DigestUpdate(sr->all, &sr->held, 1);
	EVP_DigestUpdate(sr->all, p, len - 1);
	sr->held = p[len - 1];
	sr->holding = true;
	c->size += len;
	for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p)));
	     q++)
		c->lf++;
	c->ends_nl = p[len - 1] == '\n';
	size_t h = hcut_feed(&sr->srv, p, len);
	if (h > 0 && !sr->hdr_cut) {
		if (sr->hdr.len + h > REINDEX_HEADER_MAX)
			sr->hdr_cut = true;
		else
			util_str_add(&sr->hdr, p, h);
	}
	return 0;
}

/* The keys of a copy less its first 1, 2... prepended fields. */
static void suffix_keys(struct scan_run *sr, struct copy *c, size_t ci)
{
	size_t starts[REINDEX_PREPENDED_MAX + 1];
	size_t n = reindex_field_starts(sr->hdr.p, sr->hdr.len, starts,
					REINDEX_PREPENDED_MAX + 1);
	uint64_t lf = 0;

	/* The empty line is a boundary too: fields put in front of a
	 * message whose header section is empty. */
	if (n > 0 && n <= REINDEX_PREPENDED_MAX) {
		size_t e = field_end(sr->hdr.p, sr->hdr.len, starts[n - 1]);
		if (e < sr->hdr.len && sr->hdr.p[e] == '\n')
			starts[n++] = e;
	}
	unsigned char md[32];

	for (size_t k = 1; k < n; k++) {
		const char *f = sr->hdr.p + starts[k - 1];
		if (!prepended_name(f, starts[k] - starts[k - 1]))
			break;
		for (const char *q = f; q < sr->hdr.p + starts[k]; q++)
			lf += *q == '\n';
		c->off[k] = (uint32_t)starts[k];
		c->off_lf[k] = (uint32_t)lf;
		EVP_Digest(sr->hdr.p + starts[k], sr->hdr.len - starts[k], md,
			   NULL, EVP_sha256(), NULL);
		add_key(sr->ar, md, ci, (unsigned)k);
	}
}

static int scan_end(void *ctx)
{
	struct scan_run *sr = ctx;
	size_t ci = sr->ar->n - 1;
	struct copy *c = &sr->ar->copies[ci];
	unsigned char md[32];

	if (sr->holding && sr->held == '\n') {
		EVP_MD_CTX_copy_ex(sr->trim, sr->all);
		md_hex(sr->trim, c->hash_trim);
	}
	if (sr->holding)
		EVP_DigestUpdate(sr->all, &sr->held, 1);
	md_hex(sr->all, c->hash);
	md_final(sr->srv.md, md);
	util_hex(md, 32, c->header_hash);
	add_key(sr->ar, md, ci, 0);
	if (sr->hdr.len > 0) {
		reindex_message_id(sr->hdr.p, sr->hdr.len, &c->msgid);
		if (!sr->hdr_cut)
			suffix_keys(sr, c, ci);
	}
	return 0;
}

static int cmp_hkey(const void *a, const void *b)
{
	const struct hkey *x = a, *y = b;
	int r = memcmp(x->md, y->md, 32);

	if (r != 0)
		return r;
	if (x->copy != y->copy)
		return x->copy < y->copy ? -1 : 1;
	return (int)x->k - (int)y->k;
}

static void archive_free(struct archive *ar)
{
	for (size_t i = 0; i < ar->n; i++) {
		free(ar->copies[i].location);
		free(ar->copies[i].msgid);
	}
	free(ar->copies);
	free(ar->keys);
	free(ar->path);
	free(ar->target);
}

/* A Maildir file a reader renamed (new/ to cur/, flags added) is still
 * the one its record names. */
static const char *location_base(const char *loc, size_t *len_r)
{
	if (strncmp(loc, "new/", 4) == 0 || strncmp(loc, "cur/", 4) == 0) {
		loc += 4;
		*len_r = strcspn(loc, ":");
	} else {
		*len_r = strlen(loc);
	}
	return loc;
}

/* A copy's location base, for finding the copies records point to. */
struct loc_ref {
	const char *base;
	size_t len;
	size_t copy;
};

static int cmp_loc(const char *a, size_t la, const char *b, size_t lb)
{
	int r = memcmp(a, b, la < lb ? la : lb);
	return r != 0 ? r : (la > lb) - (la < lb);
}

static int cmp_loc_ref(const void *a, const void *b)
{
	const struct loc_ref *x = a, *y = b;
	return cmp_loc(x->base, x->len, y->base, y->len);
}

struct taken_run {
	struct archive *ar;
	struct loc_ref *refs;       /* sorted */
};

static void taken_one(void *ctx, const char *location)
{
	struct taken_run *t = ctx;
	size_t lo = 0, hi = t->ar->n, lk;
	const char *k = location_base(location, &lk);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_loc(t->refs[mid].base, t->refs[mid].len, k, lk) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->ar->n &&
	       cmp_loc(t->refs[lo].base, t->refs[lo].len, k, lk) == 0;
	     lo++)
		t->ar->copies[t->refs[lo].copy].used = true;
}

/* Marks the copies that records point to already: not to be claimed
 * again.  0, or -1 with *err_r. */
static int mark_taken(struct state *st, struct archive *ar, char **err_r)
{
	struct taken_run t = {.ar = ar,
			      .refs = xcalloc(ar->n + 1, sizeof(*t.refs))};

	for (size_t i = 0; i < ar->n; i++) {
		t.refs[i].base = location_base(ar->copies[i].location,
					       &t.refs[i].len);
		t.refs[i].copy = i;
	}
	/* qsort may not be given NULL, even with 0 elements */
	if (ar->n > 1)
		qsort(t.refs, ar->n, sizeof(*t.refs), cmp_loc_ref);
	int r = state_reindex_taken(st, ar->target, taken_one, &t, err_r);
	free(t.refs);
	return r;
}

/* Reads the archive at PATH.  0, or -1 with *err_r. */
static int archive_scan(const struct conf_account *acct,
			const struct sink_ops *ops, struct state *st,
			struct archive *ar, char **err_r)
{
	struct scan_run sr = {.ar = ar,
			      .all = EVP_MD_CTX_new(),
			      .trim = EVP_MD_CTX_new(),
			      .srv = {.md = EVP_MD_CTX_new()}};
	static const struct sink_scan_cb cb = {
	    .begin = scan_begin, .data = scan_data, .end = scan_end};

	util_str_add(&sr.hdr, "", 0);
	int r = ops->scan(acct, ar->path, &cb, &sr, err_r);
	EVP_MD_CTX_free(sr.all);
	EVP_MD_CTX_free(sr.trim);
	EVP_MD_CTX_free(sr.srv.md);
	free(sr.hdr.p);
	if (r != 0) {
		if (r > 0)
			*err_r = xasprintf("%s: scan failed", ar->target);
		return -1;
	}
	if (ar->n_keys > 1)
		qsort(ar->keys, ar->n_keys, sizeof(*ar->keys), cmp_hkey);
	return mark_taken(st, ar, err_r);
}

/* --- one account --- */

struct counts {
	uint64_t on_server, found, recorded, missing, imported;
};

struct rx {
	const struct conf_account *acct;
	struct state *st;
	const struct source_ops *src_ops;
	const struct sink_ops *sink_ops;
	struct source *src;
	struct archive *archives;
	size_t n_archives;
	struct counts n;
	time_t now;
	enum util_fail fail;
	char *error;                /* the first failure */
	bool listed;
};

/* As session.c: the first failure is the error line, later ones are
 * logged at once. */
static void rx_fail(struct rx *r, enum util_fail f, char *msg)
{
	if (r->error == NULL) {
		r->error = msg;
	} else {
		log_error(r->acct->name, "%s", msg);
		free(msg);
	}
	r->fail = util_fail_worst(r->fail, f);
}

static void folder_fail(struct rx *r, const struct source_folder *fo,
			enum util_fail f, char *msg)
{
	if (fo->name[0] != '\0') {
		char *m = xasprintf("folder \"%s\": %s", fo->display, msg);
		free(msg);
		msg = m;
	}
	rx_fail(r, f, msg);
}

/* The archive at PATH, scanned on first use; NULL when it cannot be
 * read (the failure is the run's). */
static struct archive *archive_get(struct rx *r, const char *path)
{
	char *err = NULL;

	for (size_t i = 0; i < r->n_archives; i++)
		if (strcmp(r->archives[i].path, path) == 0)
			return r->archives[i].target != NULL ? &r->archives[i]
							     : NULL;
	r->archives = xrealloc(r->archives,
			       (r->n_archives + 1) * sizeof(*r->archives));
	struct archive *ar = &r->archives[r->n_archives++];
	memset(ar, 0, sizeof(*ar));
	ar->path = xstrdup(path);
	ar->target = xasprintf("%s:%s", r->sink_ops->name, path);
	log_debug(r->acct->name, "reading the archive %s", ar->target);
	if (archive_scan(r->acct, r->sink_ops, r->st, ar, &err) < 0) {
		rx_fail(r, UTIL_FAIL_LOCAL,
			xasprintf("reading the archive: %s", err));
		free(err);
		free(ar->target);
		ar->target = NULL; /* remembered as unreadable */
		return NULL;
	}
	return ar;
}

/* --- what the state knows of a folder --- */

struct seen {
	char *uid;
	uint64_t size;
	bool imported;
};

struct seen_set {
	struct seen *s;
	size_t n, cap;
};

static void seen_one(void *ctx, const char *uid, uint64_t size,
		     bool imported)
{
	struct seen_set *set = ctx;

	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 256;
		set->s = xrealloc(set->s, set->cap * sizeof(*set->s));
	}
	set->s[set->n++] =
	    (struct seen){.uid = xstrdup(uid), .size = size, .imported = imported};
}

static int cmp_seen(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	return strcmp(x->uid, y->uid);
}

static void seen_free(struct seen_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->s[i].uid);
	free(set->s);
}

/* Does the state have a record of M by mailhaul (*own_r) or one imported
 * from another tool (*imported_r)? */
static void seen_lookup(const struct seen_set *set, const struct source_msg *m,
			bool *own_r, bool *imported_r)
{
	size_t lo = 0, hi = set->n;

	*own_r = *imported_r = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(set->s[mid].uid, m->uid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < set->n && strcmp(set->s[lo].uid, m->uid) == 0; lo++) {
		const struct seen *s = &set->s[lo];
		if (!s->imported && s->size == m->size)
			*own_r = true;
		else if (s->imported && (s->size == m->size || s->size == 0))
			*imported_r = true;
	}
}

/* --- the server's header sections --- */

/* A listed message without a record of its own. */
struct cand {
	size_t idx;                 /* in the listing */
	bool imported;              /* an imported record stands for it */
	bool got;                   /* its header section came whole */
	unsigned char md[32];       /* its hash, as the archive's srv key */
	unsigned char md_nl[32];    /* the same with a '\n' added */
	bool has_nl;                /* the section is the whole message,
				     * with no final newline: an mbox
				     * holds it with one */
	char *msgid;
};

struct hdr_run {
	const struct conf_account *acct;
	const struct source_listing *l;
	struct cand *c;
	size_t *cand_of;            /* listing position -> candidate */
	size_t cur;
	struct hcut cut;
	struct util_str buf;
};

static int hdr_begin(void *ctx, size_t i)
{
	struct hdr_run *h = ctx;

	h->cur = h->cand_of[i];
	hcut_start(&h->cut);
	h->buf.len = 0;
	return 0;
}

static int hdr_data(void *ctx, size_t i, const void *buf, size_t len)
{
	struct hdr_run *h = ctx;
	size_t k = hcut_feed(&h->cut, buf, len);

	(void)i;
	if (h->buf.len + k > REINDEX_HEADER_MAX)
		k = REINDEX_HEADER_MAX - h->buf.len;
	util_str_add(&h->buf, buf, k);
	return 0;
}

static int hdr_end(void *ctx, size_t i)
{
	struct hdr_run *h = ctx;
	struct cand *c = &h->c[h->cur];

	(void)i;
	c->has_nl = h->cut.in && h->cut.n > 0 && h->cut.last != '\n';
	if (c->has_nl) {
		EVP_MD_CTX *nl = EVP_MD_CTX_new();
		EVP_MD_CTX_copy_ex(nl, h->cut.md);
		EVP_DigestUpdate(nl, "\n", 1);
		md_final(nl, c->md_nl);
		EVP_MD_CTX_free(nl);
	}
	md_final(h->cut.md, c->md);
	free(c->msgid);
	reindex_message_id(h->buf.p, h->buf.len, &c->msgid);
	c->got = true;
	return 0;
}

/* A message whose headers did not come is left for the next poll. */
static int hdr_drop(void *ctx, size_t i, const char *why)
{
	struct hdr_run *h = ctx;

	log_debug(h->acct->name, "message %s: headers not read: %s",
		  h->l->msgs[i].uid, why);
	return 0;
}

static int fetch_headers(struct rx *r, const struct source_listing *l,
			 struct cand *c, size_t n, enum util_fail *fail_r,
			 char **err_r)
{
	static const struct source_fetch_cb cb = {
	    .begin = hdr_begin, .data = hdr_data, .end = hdr_end,
	    .drop = hdr_drop};
	struct hdr_run h = {.acct = r->acct,
			    .l = l,
			    .c = c,
			    .cand_of = xcalloc(l->n + 1, sizeof(size_t)),
			    .cut = {.md = EVP_MD_CTX_new()}};
	size_t *idx = xcalloc(n + 1, sizeof(*idx));

	for (size_t j = 0; j < n; j++) {
		idx[j] = c[j].idx;
		h.cand_of[c[j].idx] = j;
	}
	util_str_add(&h.buf, "", 0);
	int ret = r->src_ops->fetch_headers(r->src, idx, n, &cb, &h, fail_r,
					    err_r);
	EVP_MD_CTX_free(h.cut.md);
	free(h.buf.p);
	free(h.cand_of);
	free(idx);
	return ret;
}

/* --- matching --- */

/* The first copy not yet claimed whose header section (less what a tool
 * put in front) is the server's, with the same Message-ID when both have
 * one, and a size the server's listing allows.  Sets *k_r. */
static struct copy *match_md(struct archive *ar, const struct source_msg *m,
			     const struct cand *c, const unsigned char *md,
			     unsigned *k_r)
{
	size_t lo = 0, hi = ar->n_keys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(ar->keys[mid].md, md, 32) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ar->n_keys && memcmp(ar->keys[lo].md, md, 32) == 0;
	     lo++) {
		const struct hkey *k = &ar->keys[lo];
		struct copy *cp = &ar->copies[k->copy];
		if (cp->used)
			continue;
		if (c->msgid != NULL && cp->msgid != NULL &&
		    strcmp(c->msgid, cp->msgid) != 0)
			continue;
		if (!reindex_size_fits(m->size, cp->size - cp->off[k->k],
				       cp->lf - cp->off_lf[k->k], cp->ends_nl))
			continue;
		*k_r = k->k;
		return cp;
	}
	return NULL;
}

/* Sets *alt_r when the match needed the newline an mbox added to a
 * message that is all header. */
static struct copy *match(struct archive *ar, const struct source_msg *m,
			  const struct cand *c, unsigned *k_r, bool *alt_r)
{
	struct copy *cp = match_md(ar, m, c, c->md, k_r);

	*alt_r = false;
	if (cp == NULL && c->has_nl) {
		cp = match_md(ar, m, c, c->md_nl, k_r);
		*alt_r = cp != NULL && cp->hash_trim[0] != '\0';
		if (!*alt_r)
			cp = NULL;
	}
	return cp;
}

/* Does the copy hold, with a final newline an mbox added, a message the
 * server has without one?  IMAP sends a message as it is, so its listed
 * size tells; POP3 always ends a message with a line end, which a poll
 * archives. */
static bool newline_added(const struct conf_account *a,
			  const struct source_msg *m, const struct copy *cp,
			  unsigned k)
{
	return a->protocol == CONF_PROTOCOL_IMAP && k == 0 &&
	       cp->hash_trim[0] != '\0' && m->size == cp->size + cp->lf - 2;
}

/* Matches the candidates against the archive AR and records the found
 * ones.  Returns 0, or -1 (the failure is the run's). */
static int record_found(struct rx *r, const struct source_folder *fo,
			const struct source_folder_info *info,
			const struct source_listing *l, struct cand *c,
			size_t n, struct archive *ar)
{
	struct state_record *recs = xcalloc(n + 1, sizeof(*recs));
	size_t nr = 0, imported_kept = 0;
	char *err = NULL;
	int ret = 0;

	for (size_t j = 0; j < n; j++) {
		const struct source_msg *m = &l->msgs[c[j].idx];
		unsigned k = 0;
		bool alt = false;
		struct copy *cp =
		    c[j].got ? match(ar, m, &c[j], &k, &alt) : NULL;
		if (cp == NULL) {
			imported_kept += c[j].imported;
			continue;
		}
		cp->used = true;
		struct state_record *rec = &recs[nr++];
		rec->key = (struct state_key){.account = r->acct->name,
					      .folder = fo->name,
					      .uidvalidity = info->uidvalidity,
					      .uid = m->uid,
					      .size = m->size};
		rec->archived_size = cp->size;
		memcpy(rec->hash, cp->hash, sizeof(rec->hash));
		/* As a poll records it: verify accepts the copy with or
		 * without the newline an mbox added. */
		if (alt || newline_added(r->acct, m, cp, k)) {
			rec->archived_size--;
			memcpy(rec->hash, cp->hash_trim, sizeof(rec->hash));
		}
		/* The fingerprint of the server's message, as a poll would
		 * have recorded it. */
		if (k == 0 && !alt)
			memcpy(rec->header_hash, cp->header_hash,
			       sizeof(rec->header_hash));
		else
			util_hex(c[j].md, 32, rec->header_hash);
		rec->target = ar->target;
		rec->location = cp->location;
		rec->first_archived = r->now;
	}
	if (nr > 0 && state_reindex_record(r->st, recs, nr, &err) < 0) {
		folder_fail(r, fo, UTIL_FAIL_LOCAL, err);
		ret = -1;
		nr = 0; /* nothing was recorded */
	}
	r->n.found += nr;
	r->n.imported += imported_kept;
	r->n.missing += n - nr - imported_kept;
	free(recs);
	return ret;
}

/* --- one folder --- */

/* The listed messages with no record of mailhaul's own. */
static struct cand *candidates(struct rx *r, const struct source_folder *fo,
			       const struct source_folder_info *info,
			       const struct source_listing *l, size_t *n_r)
{
	struct seen_set set = {0};
	struct cand *c = NULL;
	char *err = NULL;
	size_t n = 0;

	if (state_reindex_records(r->st, r->acct->name, fo->name,
				  info->uidvalidity, seen_one, &set,
				  &err) < 0) {
		folder_fail(r, fo, UTIL_FAIL_LOCAL, err);
		seen_free(&set);
		return NULL;
	}
	if (set.n > 1)
		qsort(set.s, set.n, sizeof(*set.s), cmp_seen);
	c = xcalloc(l->n + 1, sizeof(*c));
	for (size_t i = 0; i < l->n; i++) {
		bool own, imported;
		seen_lookup(&set, &l->msgs[i], &own, &imported);
		if (own) {
			r->n.recorded++;
			continue;
		}
		c[n++] = (struct cand){.idx = i, .imported = imported};
	}
	seen_free(&set);
	*n_r = n;
	return c;
}

static void cands_free(struct cand *c, size_t n)
{
	for (size_t j = 0; j < n; j++)
		free(c[j].msgid);
	free(c);
}

/* Reindexes one folder.  Returns -1 when the session cannot go on. */
static int reindex_folder(struct rx *r, const struct source_folder *fo)
{
	struct source_folder_info info;
	const struct source_listing *l = NULL;
	enum util_fail f = UTIL_FAIL_TEMP;
	char *path = NULL, *err = NULL;
	unsigned flags = 0;
	size_t n = 0;

	if (fo->refused != NULL) {
		rx_fail(r, UTIL_FAIL_CONFIG, xstrdup(fo->refused));
		return 0;
	}
	if (folder_target(r->acct->target, r->acct->layout,
			  r->acct->target_path, fo->display, fo->sep, &path,
			  &flags, &err) < 0) {
		rx_fail(r, UTIL_FAIL_CONFIG, err);
		return 0;
	}
	if (r->src_ops->select(r->src, fo, false, &info, &f, &err) < 0 ||
	    r->src_ops->list(r->src, 0, &l, &f, &err) < 0) {
		folder_fail(r, fo, f, err);
		free(path);
		return -1;
	}
	r->n.on_server += l->n;
	if (!l->has_uids) {
		log_warn(r->acct->name, "the server gives no UIDL: nothing "
					"can be recorded; the next poll "
					"fetches every message");
		r->n.missing += l->n;
		free(path);
		return 0;
	}
	struct cand *c = candidates(r, fo, &info, l, &n);
	struct archive *ar = c != NULL && n > 0 ? archive_get(r, path) : NULL;
	int ret = 0;
	if (ar != NULL) {
		if (fetch_headers(r, l, c, n, &f, &err) < 0) {
			folder_fail(r, fo, f, err);
			ret = -1; /* the connection is not usable */
		} else {
			ret = record_found(r, fo, &info, l, c, n, ar);
		}
	} else if (c != NULL) {
		for (size_t j = 0; j < n; j++) {
			if (c[j].imported)
				r->n.imported++;
			else
				r->n.missing++;
		}
	}
	if (c != NULL)
		cands_free(c, n);
	free(path);
	return ret;
}

/* --- the account --- */

static int rx_open(struct rx *r, const struct source_folder **f_r,
		   size_t *n_r)
{
	enum util_fail f = UTIL_FAIL_TEMP;
	char *err = NULL;

	if (source_open_account(r->src_ops, r->acct, &r->src, f_r, n_r, &f,
				&err) < 0) {
		rx_fail(r, f, err);
		return -1;
	}
	r->listed = true;
	return 0;
}

static void rx_run(struct rx *r)
{
	const struct source_folder *folders = NULL;
	size_t n_folders = 0;
	char *err = NULL;

	r->src_ops = source_ops_for(r->acct->protocol);
	r->sink_ops = sink_ops_for(r->acct->target);
	if (r->src_ops == NULL || r->src_ops->fetch_headers == NULL) {
		rx_fail(r, UTIL_FAIL_CONFIG,
			xasprintf("protocol %s is not supported",
				  conf_protocol_name(r->acct->protocol)));
		return;
	}
	if (r->sink_ops == NULL || r->sink_ops->scan == NULL) {
		rx_fail(r, UTIL_FAIL_CONFIG,
			xasprintf("reindex reads a Maildir or an mbox; %s is "
				  "neither",
				  r->acct->deliver));
		return;
	}
	if (rx_open(r, &folders, &n_folders) < 0)
		goto out;
	for (size_t i = 0; i < n_folders; i++)
		if (reindex_folder(r, &folders[i]) < 0)
			break;
out:
	/* Nothing was marked for deletion; close without QUIT all the
	 * same, so that nothing ever could be. */
	if (r->src != NULL)
		r->src_ops->close(&r->src, false, &err);
	free(err);
}

static void print_counts(const struct conf_account *a, const struct counts *n)
{
	printf("reindex %s: %" PRIu64 " on the server, %" PRIu64
	       " found in the archive and recorded, %" PRIu64
	       " already recorded, %" PRIu64
	       " not archived (the next poll fetches them)\n",
	       a->name, n->on_server, n->found, n->recorded, n->missing);
	if (n->imported > 0)
		printf("reindex %s: %" PRIu64 " more are recorded as imported "
		       "from another tool but are not in the archive: they "
		       "stay recorded and are not fetched\n",
		       a->name, n->imported);
	fflush(stdout);
}

/* Reindexes A under its account lock.  Returns the failure class. */
static enum util_fail reindex_account(const struct conf *conf,
				      const struct conf_account *a,
				      struct state *st)
{
	struct rx r = {.acct = a, .st = st, .now = time(NULL)};
	struct lock *lock = NULL;
	char *err = NULL;

	switch (lock_account(conf->state_file, a->name, conf->lock_timeout,
			     &lock, &err)) {
	case LOCK_TAKEN:
		rx_run(&r);
		lock_release(&lock);
		break;
	case LOCK_BUSY:
		rx_fail(&r, UTIL_FAIL_TEMP, err);
		break;
	case LOCK_ERROR:
		rx_fail(&r, UTIL_FAIL_LOCAL, err);
		break;
	}
	if (r.listed)
		print_counts(a, &r.n);
	if (r.error != NULL)
		log_error(a->name, "%s", r.error);
	for (size_t i = 0; i < r.n_archives; i++)
		archive_free(&r.archives[i]);
	free(r.archives);
	free(r.error);
	return r.fail;
}

int reindex_command(const struct conf *conf, const struct cli *cli)
{
	enum util_fail worst = UTIL_FAIL_NONE;
	struct state *st = NULL;
	char *err = NULL;

	if (cli->n_accounts == 0 || cli->n_args > 0) {
		fprintf(stderr, "usage: mailhaul reindex -a NAME [-a NAME]...\n");
		return 64;
	}
	if (state_open(conf->state_file, &st, &err) < 0) {
		log_error(NULL, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	for (size_t i = 0; i < cli->n_accounts; i++) {
		const struct conf_account *a =
		    conf_find_account(conf, cli->accounts[i]);
		worst = util_fail_worst(worst, reindex_account(conf, a, st));
	}
	state_close(&st);
	return util_fail_exit_code(worst);
}
