/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "auth.h"
#include "log.h"
#include "plan.h"
#include "session.h"
#include "sink.h"
#include "source.h"

/* A batch is made durable (one fsync, one DB commit) after this many
 * messages or bytes, whichever comes first. */
#define BATCH_MSGS 64
#define BATCH_BYTES (32u << 20)
#define PROGRESS_STEP (256u << 10)

struct session {
	const struct conf_account *acct;
	struct state *st;
	struct session_result *res;
	const struct source_ops *src_ops;
	struct source *src;
	const struct source_listing *listing;
	enum plan_action *actions;
	struct sink *sink;
	char *target;                 /* "maildir:/abs/path" */
	/* the message streaming in */
	bool in_msg;
	EVP_MD_CTX *hash, *header_hash;
	bool in_header;
	char last;                    /* last byte seen, for "\n\n" */
	uint64_t msg_bytes;
	/* ended but not yet durable */
	struct state_record batch[BATCH_MSGS];
	size_t batch_idx[BATCH_MSGS]; /* listing positions of the batch */
	size_t batch_n;
	uint64_t batch_bytes;
	/* recorded messages the plan wants deleted */
	size_t *del;
	size_t del_n;
	/* progress */
	uint64_t total_msgs, total_bytes, done_msgs, done_bytes, shown_bytes;
	char *error;                  /* first local failure, if any */
};

static void session_fail(struct session *s, enum util_fail f, char *msg)
{
	if (s->error == NULL) {
		s->error = msg;
		s->res->fail = f;
	} else {
		free(msg);
	}
}

static void hash_hex(EVP_MD_CTX *ctx, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	util_hex(md, 32, out);
}

static void batch_clear(struct session *s)
{
	for (size_t i = 0; i < s->batch_n; i++) {
		free((char *)s->batch[i].location);
		free((char *)s->batch[i].key.uid);
	}
	s->batch_n = 0;
	s->batch_bytes = 0;
}

/* Makes the batch durable in the archive, then records it: only now may
 * its messages be deleted on the server. */
static int batch_flush(struct session *s)
{
	char *err = NULL;

	if (s->batch_n == 0)
		return 0;
	if (s->sink->ops->commit(s->sink, &err) < 0 ||
	    state_record_batch(s->st, s->batch, s->batch_n, &err) < 0) {
		s->sink->ops->rollback(s->sink);
		session_fail(s, UTIL_FAIL_LOCAL, err);
		batch_clear(s);
		return -1;
	}
	for (size_t i = 0; i < s->batch_n; i++)
		if (s->actions[s->batch_idx[i]] == PLAN_FETCH_DELETE)
			s->del[s->del_n++] = s->batch_idx[i];
	s->res->new_msgs += s->batch_n;
	s->res->new_bytes += s->batch_bytes;
	batch_clear(s);
	return 0;
}

/* --- streaming callbacks --- */

static int on_begin(void *ctx, size_t i)
{
	struct session *s = ctx;
	char *err = NULL;

	(void)i;
	int r = s->sink->ops->begin(s->sink, &err);
	if (r < 0) {
		enum util_fail f = r == SINK_LOCKED ? UTIL_FAIL_TEMP
						    : UTIL_FAIL_LOCAL;
		session_fail(s, f, err);
		return f;
	}
	s->in_msg = true;
	EVP_DigestInit_ex(s->hash, EVP_sha256(), NULL);
	EVP_DigestInit_ex(s->header_hash, EVP_sha256(), NULL);
	s->in_header = true;
	s->last = '\n';
	s->msg_bytes = 0;
	return 0;
}

/* Feeds the header section (up to and including the first empty line)
 * into the header fingerprint. */
static void header_feed(struct session *s, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && s->last == '\n' &&
		    (i > 0 || s->msg_bytes > 0)) {
			i++;
			s->in_header = false;
			break;
		}
		s->last = p[i];
	}
	EVP_DigestUpdate(s->header_hash, p, i);
}

static int on_data(void *ctx, size_t i, const void *buf, size_t len)
{
	struct session *s = ctx;
	char *err = NULL;

	(void)i;
	if (s->sink->ops->write(s->sink, buf, len, &err) < 0) {
		session_fail(s, UTIL_FAIL_LOCAL, err);
		return UTIL_FAIL_LOCAL;
	}
	EVP_DigestUpdate(s->hash, buf, len);
	if (s->in_header)
		header_feed(s, buf, len);
	s->msg_bytes += len;
	s->done_bytes += len;
	if (s->done_bytes - s->shown_bytes >= PROGRESS_STEP) {
		s->shown_bytes = s->done_bytes;
		log_progress(s->acct->name, s->done_msgs, s->total_msgs,
			     s->done_bytes, s->total_bytes);
	}
	return 0;
}

/* Key of a message: its UIDL, or its content where the server has none
 * (only with keep = no, so the record never decides anything). */
static char *record_uid(const struct source_msg *m, const char *hash)
{
	return m->uid[0] != '\0' ? xstrdup(m->uid)
				 : xasprintf("sha256:%s", hash);
}

static int on_end(void *ctx, size_t i)
{
	struct session *s = ctx;
	const struct source_msg *m = &s->listing->msgs[i];
	struct state_record *r = &s->batch[s->batch_n];
	char *loc = NULL, *err = NULL;

	if (s->sink->ops->end(s->sink, &loc, &err) < 0) {
		s->in_msg = false;
		session_fail(s, UTIL_FAIL_LOCAL, err);
		return UTIL_FAIL_LOCAL;
	}
	s->in_msg = false;
	memset(r, 0, sizeof(*r));
	hash_hex(s->hash, r->hash);
	hash_hex(s->header_hash, r->header_hash);
	r->key = (struct state_key){.account = s->acct->name,
				    .folder = "",
				    .uidvalidity = 0,
				    .uid = record_uid(m, r->hash),
				    .size = m->size};
	r->archived_size = s->msg_bytes;
	r->target = s->target;
	r->location = loc;
	r->first_archived = time(NULL);
	s->batch_idx[s->batch_n++] = i;
	s->batch_bytes += s->msg_bytes;
	s->done_msgs++;
	log_progress(s->acct->name, s->done_msgs, s->total_msgs, s->done_bytes,
		     s->total_bytes);
	if (s->batch_n == BATCH_MSGS || s->batch_bytes >= BATCH_BYTES)
		return batch_flush(s) < 0 ? UTIL_FAIL_LOCAL : 0;
	return 0;
}

static const struct source_fetch_cb session_fetch_cb = {
	.begin = on_begin,
	.data = on_data,
	.end = on_end,
};

/* --- the poll --- */

static int plan_listing(struct session *s, size_t **fetch_r, size_t *n_r)
{
	const struct source_listing *l = s->listing;
	struct plan_msg *pm = xcalloc(l->n, sizeof(*pm));
	struct plan_rules rules = {.keep = s->acct->keep,
				   .has_uids = l->has_uids};
	const char *why = NULL;
	char *err = NULL;
	int ret = -1;

	for (size_t i = 0; i < l->n && l->has_uids; i++) {
		struct state_key k = {.account = s->acct->name,
				      .folder = "",
				      .uid = l->msgs[i].uid,
				      .size = l->msgs[i].size};
		if (state_is_seen(s->st, &k, &pm[i].seen, &err) < 0) {
			session_fail(s, UTIL_FAIL_LOCAL, err);
			goto out;
		}
	}
	s->actions = xcalloc(l->n, sizeof(*s->actions));
	if (plan_make(pm, l->n, &rules, time(NULL), s->actions, &why) < 0) {
		session_fail(s, UTIL_FAIL_CONFIG, xstrdup(why));
		goto out;
	}
	size_t *fetch = xcalloc(l->n, sizeof(*fetch)), n = 0;
	s->del = xcalloc(l->n, sizeof(*s->del));
	for (size_t i = 0; i < l->n; i++) {
		enum plan_action a = s->actions[i];
		if (a == PLAN_FETCH || a == PLAN_FETCH_DELETE) {
			fetch[n++] = i;
			s->total_bytes += l->msgs[i].size;
		} else if (a == PLAN_DELETE) {
			s->del[s->del_n++] = i;
		}
	}
	s->total_msgs = n;
	*fetch_r = fetch;
	*n_r = n;
	ret = 0;
out:
	free(pm);
	return ret;
}

/* Fetches what the plan says; whatever happens, every complete message
 * is made durable and recorded, and a partial one is dropped. */
static int fetch_all(struct session *s, const size_t *fetch, size_t n)
{
	enum util_fail f = UTIL_FAIL_NONE;
	char *err = NULL;

	int r = s->src_ops->fetch(s->src, fetch, n, &session_fetch_cb, s, &f,
				  &err);
	if (s->in_msg) {
		s->sink->ops->abort(s->sink);
		s->in_msg = false;
	}
	if (r < 0)
		session_fail(s, f != UTIL_FAIL_NONE ? f : UTIL_FAIL_TEMP, err);
	else
		free(err);
	if (batch_flush(s) < 0 || r < 0)
		return -1;
	return 0;
}

static int open_source(struct session *s)
{
	enum util_fail f = UTIL_FAIL_TEMP;
	char *password = NULL, *err = NULL;

	if (auth_get_password(s->acct, &password, &err) < 0) {
		session_fail(s, UTIL_FAIL_AUTH, err);
		return -1;
	}
	int r = s->src_ops->open(s->acct, password, &s->src, &f, &err);
	util_free_secret(&password);
	if (r < 0) {
		session_fail(s, f, err);
		return -1;
	}
	if (s->src_ops->list(s->src, &s->listing, &f, &err) < 0) {
		session_fail(s, f, err);
		return -1;
	}
	s->res->listed = true;
	return 0;
}

static int open_sink(struct session *s)
{
	const struct sink_ops *ops = sink_ops_for(s->acct->target);
	char *err = NULL;

	s->target = xasprintf("%s:%s", ops->name, s->acct->target_path);
	if (ops->open(s->acct->target_path, &s->sink, &err) < 0) {
		session_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	return 0;
}

/* Deletes what is recorded and due, then ends the session; deletions count
 * only once the server confirmed QUIT. */
static void finish(struct session *s, bool ok)
{
	char *err = NULL;
	enum util_fail f = UTIL_FAIL_TEMP;
	/* The listing belongs to the source, which close frees. */
	uint64_t listed = s->listing != NULL ? s->listing->n : 0;

	s->listing = NULL;
	if (ok && s->del_n > 0 &&
	    s->src_ops->mark_deleted(s->src, s->del, s->del_n, &f, &err) < 0) {
		session_fail(s, f, err);
		ok = false;
		err = NULL;
	}
	if (s->src_ops->close(&s->src, ok, &err) < 0 && ok) {
		/* Without a confirmed QUIT nothing is known deleted. */
		session_fail(s, UTIL_FAIL_TEMP, err);
		err = NULL;
		ok = false;
	}
	free(err);
	s->res->deleted = ok ? s->del_n : 0;
	s->res->on_server = listed - s->res->deleted;
}

static void session_free(struct session *s)
{
	batch_clear(s);
	if (s->src != NULL) {
		char *err = NULL;
		s->src_ops->close(&s->src, false, &err);
		free(err);
	}
	if (s->sink != NULL)
		s->sink->ops->close(&s->sink);
	EVP_MD_CTX_free(s->hash);
	EVP_MD_CTX_free(s->header_hash);
	free(s->actions);
	free(s->del);
	free(s->target);
}

enum util_fail session_poll(const struct conf_account *acct, struct state *st,
			    struct session_result *res)
{
	struct session s = {.acct = acct, .st = st, .res = res};
	size_t *fetch = NULL, n = 0;

	memset(res, 0, sizeof(*res));
	s.src_ops = source_ops_for(acct->protocol);
	if (s.src_ops == NULL) {
		session_fail(&s, UTIL_FAIL_CONFIG,
			     xasprintf("protocol %s is not supported yet",
				       conf_protocol_name(acct->protocol)));
		goto out;
	}
	s.hash = EVP_MD_CTX_new();
	s.header_hash = EVP_MD_CTX_new();
	if (open_sink(&s) < 0 || open_source(&s) < 0 ||
	    plan_listing(&s, &fetch, &n) < 0)
		goto out;
	bool ok = fetch_all(&s, fetch, n) == 0;
	log_progress_end();
	finish(&s, ok);
out:
	free(fetch);
	session_free(&s);
	res->error = s.error;
	return res->fail;
}
