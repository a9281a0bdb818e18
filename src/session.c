/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "crash.h"
#include "folder.h"
#include "log.h"
#include "plan.h"
#include "session.h"
#include "sink.h"
#include "source.h"

/* A batch is made durable (its syncs, two DB commits) after this many
 * messages or bytes, whichever comes first. */
#define BATCH_MSGS 128
#define BATCH_BYTES (32u << 20)
#define PROGRESS_STEP (256u << 10)

_Static_assert(sizeof(((struct state_intent *)0)->prefix) >= SINK_PREFIX_MAX,
	       "the journal keeps every byte of a placed prefix");

struct session {
	const struct conf_account *acct;
	const struct session_opts *opts;
	struct state *st;
	struct session_result *res;
	const struct source_ops *src_ops;
	struct source *src;
	/* the folder being polled */
	const struct source_folder *folder;
	struct source_folder_info info;
	bool rekey;                   /* its UIDVALIDITY changed */
	bool folder_clean;            /* every listed message was handled */
	uint64_t highest_uid;
	const struct source_listing *listing;
	struct plan_msg *pm;          /* the listing as plan sees it */
	struct plan_item *items;      /* and what plan made of it */
	struct plan_summary sum;
	size_t planned;               /* messages the plan fetches */
	/* the poll */
	time_t now;                   /* the expiry clock */
	uint64_t fetch_left;          /* fetch_limit budget */
	uint64_t size_left;           /* fetch_size_limit budget */
	bool fetched_any;
	bool archive_checked;         /* the state-lost check was made */
	bool clock_known;             /* the state has polled the account */
	bool refused;                 /* the state-lost check refused */
	/* the sink of the folder; folders sharing a path share it */
	struct sink *sink;
	char *sink_path;
	char *target;                 /* "maildir:/abs/path" */
	/* the message streaming in */
	bool in_msg;
	EVP_MD_CTX *hash, *header_hash;
	bool in_header;
	char last;                    /* last byte seen, for "\n\n" */
	uint64_t msg_bytes;
	/* ended (or re-keyed) but not yet durable */
	struct state_record batch[BATCH_MSGS];
	size_t batch_idx[BATCH_MSGS]; /* listing positions of the batch */
	bool batch_rekeyed[BATCH_MSGS];
	size_t batch_n, batch_max;
	uint64_t batch_bytes;
	/* recorded messages the plan wants deleted, in this folder */
	size_t *del;
	size_t del_n;
	uint64_t pending_deletes;     /* marked, removed only at close */
	/* progress */
	uint64_t total_msgs, total_bytes, done_msgs, done_bytes, shown_bytes;
	bool cb_failed;               /* a fetch callback failed (and said
				       * why): the fetch's own error is
				       * only its echo */
	char *error;                  /* first failure, if any */
};

/* The first failure becomes the poll's error line; later ones (another
 * folder, another message) are logged at once, and the exit status is the
 * most serious of all. */
static void session_fail(struct session *s, enum util_fail f, char *msg)
{
	if (s->error == NULL) {
		s->error = msg;
	} else {
		if (strcmp(msg, s->error) != 0)
			log_error(s->acct->name, "%s", msg);
		free(msg);
	}
	s->res->fail = util_fail_worst(s->res->fail, f);
}

/* A failure that concerns one folder: prefixed with its name where the
 * source has folders. */
static void folder_fail(struct session *s, enum util_fail f, char *msg)
{
	if (s->folder != NULL && s->folder->name[0] != '\0') {
		char *m = xasprintf("folder \"%s\": %s", s->folder->display,
				    msg);
		free(msg);
		msg = m;
	}
	s->folder_clean = false;
	session_fail(s, f, msg);
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
		free((char *)s->batch[i].target);
	}
	s->batch_n = 0;
	s->batch_bytes = 0;
}

/* Places the batch's new messages (prepare) and journals where each goes.
 * Returns 0, or a failure class. */
static int batch_intend(struct session *s, bool *journalled_r)
{
	const struct sink_placed *placed = NULL;
	size_t n_placed = 0, j = 0, n = 0;
	char *err = NULL;

	*journalled_r = false;
	int r = s->sink->ops->prepare(s->sink, &placed, &n_placed, &err);
	if (r < 0) {
		enum util_fail f =
		    r == SINK_LOCKED ? UTIL_FAIL_TEMP : UTIL_FAIL_LOCAL;
		folder_fail(s, f, err);
		return f;
	}
	size_t want = 0;
	for (size_t i = 0; i < s->batch_n; i++)
		want += !s->batch_rekeyed[i];
	if (want != n_placed) {
		folder_fail(s, UTIL_FAIL_LOCAL,
			    xasprintf("%s: %zu messages placed, %zu expected",
				      s->target, n_placed, want));
		return UTIL_FAIL_LOCAL;
	}
	struct state_intent *in = xcalloc(s->batch_n, sizeof(*in));
	for (size_t i = 0; i < s->batch_n; i++) {
		struct state_record *rec = &s->batch[i];
		if (s->batch_rekeyed[i])
			continue; /* its archived copy is there already */
		rec->location = xstrdup(placed[j].location);
		in[n] = (struct state_intent){.rec = *rec,
					      .start = placed[j].start,
					      .disk_size = placed[j].disk_size};
		snprintf(in[n].disk_hash, sizeof(in[n].disk_hash), "%s",
			 placed[j].disk_hash[0] != '\0' ? placed[j].disk_hash
							: rec->hash);
		in[n].prefix_len = placed[j].prefix_len;
		memcpy(in[n].prefix, placed[j].prefix, placed[j].prefix_len);
		n++;
		j++;
	}
	/* An MDA took each message at its end: nothing to journal. */
	if (s->sink->ops->recover != NULL && n > 0) {
		if (state_intend_batch(s->st, in, n, &err) < 0) {
			free(in);
			folder_fail(s, UTIL_FAIL_LOCAL, err);
			return UTIL_FAIL_LOCAL;
		}
		*journalled_r = true;
		crash_point("intent");
	}
	free(in);
	return 0;
}

/* After a failed publish: the journal forgets what did not get there. */
static void batch_unintend(struct session *s)
{
	struct state_key *keys = xcalloc(s->batch_n, sizeof(*keys));
	size_t n = 0;
	char *err = NULL;

	for (size_t i = 0; i < s->batch_n; i++)
		if (!s->batch_rekeyed[i])
			keys[n++] = s->batch[i].key;
	/* Should this fail, recovery finds the messages absent. */
	if (state_unintend_batch(s->st, keys, n, &err) < 0)
		free(err);
	free(keys);
}

/* Makes the batch durable in the archive — journalled, published,
 * recorded — and only then queues its messages for deletion on the
 * server.  Returns 0, or a failure class. */
static int batch_flush(struct session *s)
{
	char *err = NULL;
	bool journalled = false;
	int f = 0;

	if (s->batch_n == 0)
		return 0;
	if (s->sink != NULL) {
		if ((f = batch_intend(s, &journalled)) != 0)
			goto fail;
		int r = s->sink->ops->commit(s->sink, &err);
		if (r < 0) {
			f = r == SINK_LOCKED ? UTIL_FAIL_TEMP : UTIL_FAIL_LOCAL;
			folder_fail(s, (enum util_fail)f, err);
			goto fail;
		}
	}
	if (state_record_batch(s->st, s->batch, s->batch_n, &err) < 0) {
		/* Published: the journal lets the next run record them. */
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		batch_clear(s);
		return UTIL_FAIL_LOCAL;
	}
	crash_point("record");
	for (size_t i = 0; i < s->batch_n; i++) {
		size_t k = s->batch_idx[i];
		if (s->items[k].action == PLAN_FETCH_DELETE)
			s->del[s->del_n++] = k;
		if (s->listing->msgs[k].index > s->highest_uid)
			s->highest_uid = s->listing->msgs[k].index;
		if (s->batch_rekeyed[i]) {
			s->res->rekeyed++;
		} else {
			s->res->new_msgs++;
			s->res->new_bytes += s->batch[i].archived_size;
		}
	}
	batch_clear(s);
	return 0;
fail:
	if (s->sink != NULL)
		s->sink->ops->rollback(s->sink);
	if (journalled)
		batch_unintend(s);
	batch_clear(s);
	return f;
}

/* --- streaming callbacks --- */

static int begin_message(void *ctx, size_t i)
{
	struct session *s = ctx;
	const struct source_msg *m = &s->listing->msgs[i];
	struct sink_meta meta = {
	    .date = m->date,
	    .flags = s->acct->keep_flags ? m->flags : NULL,
	};
	char *err = NULL;

	int r = s->sink->ops->begin(s->sink, &meta, &err);
	if (r < 0) {
		enum util_fail f = r == SINK_LOCKED ? UTIL_FAIL_TEMP
						    : UTIL_FAIL_LOCAL;
		folder_fail(s, f, err);
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

/* Feeds the header section (up to and including the first empty line; a
 * message that starts with one has only that, as POP3 TOP n 0 and IMAP
 * BODY[HEADER] give it) into the header fingerprint. */
static void header_feed(struct session *s, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && s->last == '\n') {
			i++;
			s->in_header = false;
			break;
		}
		s->last = p[i];
	}
	EVP_DigestUpdate(s->header_hash, p, i);
}

static int message_data(void *ctx, size_t i, const void *buf, size_t len)
{
	struct session *s = ctx;
	char *err = NULL;

	(void)i;
	if (s->sink->ops->write(s->sink, buf, len, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
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

/* Key of a message: its UIDL or UID, or its content where the server has
 * none (only with keep = no, so the record never decides anything). */
static char *record_uid(const struct source_msg *m, const char *hash)
{
	return m->uid[0] != '\0' ? xstrdup(m->uid)
				 : xasprintf("sha256:%s", hash);
}

/* Is an archived copy already claimed by a record of this batch? */
static bool batch_taken(void *ctx, const char *target, const char *location)
{
	struct session *s = ctx;

	for (size_t k = 0; k < s->batch_n; k++)
		if (s->batch_rekeyed[k] &&
		    strcmp(s->batch[k].target, target) == 0 &&
		    strcmp(s->batch[k].location, location) == 0)
			return true;
	return false;
}

/* After a UIDVALIDITY change: a message already archived under the old
 * one is not written again; its record is re-keyed instead.  Returns 1
 * when R now holds the re-keyed record, 0 when the message is new, or a
 * failure class. */
static int rekey_match(struct session *s, struct state_record *r)
{
	bool found = false;
	char *target = NULL, *location = NULL, *err = NULL;
	time_t first = 0;

	if (state_find_by_content(s->st, s->acct->name, s->folder->name,
				  s->info.uidvalidity, s->msg_bytes, r->hash,
				  batch_taken, s, &found, &target, &location,
				  &first, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return UTIL_FAIL_LOCAL;
	}
	if (!found)
		return 0;
	s->sink->ops->abort(s->sink);
	r->target = target;
	r->location = location;
	r->first_archived = first;
	return 1;
}

static int end_message(void *ctx, size_t i)
{
	struct session *s = ctx;
	const struct source_msg *m = &s->listing->msgs[i];
	struct state_record *r = &s->batch[s->batch_n];
	char *err = NULL;
	int rekeyed = 0;

	memset(r, 0, sizeof(*r));
	hash_hex(s->hash, r->hash);
	hash_hex(s->header_hash, r->header_hash);
	if (s->rekey && (rekeyed = rekey_match(s, r)) > 1) {
		s->in_msg = false;
		return rekeyed;
	}
	int e = rekeyed == 0 ? s->sink->ops->end(s->sink, &err) : 0;
	if (e < 0) {
		/* SINK_LOCKED: not delivered this time (an MDA's temporary
		 * failure); the message stays on the server. */
		enum util_fail f =
		    e == SINK_LOCKED ? UTIL_FAIL_TEMP : UTIL_FAIL_LOCAL;
		s->in_msg = false;
		folder_fail(s, f, err);
		return f;
	}
	s->in_msg = false;
	r->key = (struct state_key){.account = s->acct->name,
				    .folder = s->folder->name,
				    .uidvalidity = s->info.uidvalidity,
				    .uid = record_uid(m, r->hash),
				    .size = m->size};
	r->archived_size = s->msg_bytes;
	if (rekeyed == 0) {
		/* The location is known once the batch is placed. */
		r->target = xstrdup(s->target);
		/* Archived again: delete_after still counts from the first
		 * time; fetch_all leaves the record of the first copy. */
		enum plan_why why = s->items[i].why;
		r->first_archived = why == PLAN_WHY_AGAIN ||
					    why == PLAN_WHY_FETCH_ALL
					? s->pm[i].first_archived
					: s->now;
		r->keep_existing = why == PLAN_WHY_FETCH_ALL;
	}
	s->batch_rekeyed[s->batch_n] = rekeyed == 1;
	s->batch_idx[s->batch_n++] = i;
	s->batch_bytes += s->msg_bytes;
	s->done_msgs++;
	log_progress(s->acct->name, s->done_msgs, s->total_msgs, s->done_bytes,
		     s->total_bytes);
	if (s->batch_n == s->batch_max || s->batch_bytes >= BATCH_BYTES)
		return batch_flush(s);
	return 0;
}

/* The source found message I bad after its body: it is not archived, not
 * recorded, not deleted, and fetched again on the next poll. */
static int on_drop(void *ctx, size_t i, const char *why)
{
	struct session *s = ctx;

	if (s->in_msg) {
		s->sink->ops->abort(s->sink);
		s->in_msg = false;
	}
	folder_fail(s, UTIL_FAIL_TEMP,
		    xasprintf("message %s not archived: %s",
			      s->listing->msgs[i].uid, why));
	return 0;
}

/* A callback that fails has said why: the source's echo of it ("delivery
 * failed") is not a second error. */
static int cb_result(struct session *s, int f)
{
	if (f != 0)
		s->cb_failed = true;
	return f;
}

static int on_begin(void *ctx, size_t i)
{
	return cb_result(ctx, begin_message(ctx, i));
}

static int on_data(void *ctx, size_t i, const void *buf, size_t len)
{
	return cb_result(ctx, message_data(ctx, i, buf, len));
}

static int on_end(void *ctx, size_t i)
{
	return cb_result(ctx, end_message(ctx, i));
}

static const struct source_fetch_cb session_fetch_cb = {
	.begin = on_begin,
	.data = on_data,
	.end = on_end,
	.drop = on_drop,
};

/* --- one folder --- */

/* The state key of the listed message I. */
static struct state_key listing_key(const struct session *s, size_t i)
{
	const struct source_msg *m = &s->listing->msgs[i];

	return (struct state_key){.account = s->acct->name,
				  .folder = s->folder->name,
				  .uidvalidity = s->info.uidvalidity,
				  .uid = m->uid,
				  .size = m->size};
}

/* Reads what the state knows of each listed message.  Sets *reuse_r when
 * a POP3 UIDL is recorded with another size: the server reuses UIDLs, and
 * every fingerprint needs checking.  Returns 0, or -1 (failed). */
static int read_records(struct session *s, bool *reuse_r)
{
	const struct source_listing *l = s->listing;
	bool pop3 = s->info.uidvalidity == 0;
	char *err = NULL;

	*reuse_r = false;
	for (size_t i = 0; i < l->n; i++) {
		struct state_key k = listing_key(s, i);
		struct state_seen seen;
		bool found = false, other = false;
		struct plan_msg *m = &s->pm[i];

		m->size = l->msgs[i].size;
		if (l->has_uids &&
		    (state_get(s->st, &k, &seen, &found, &err) < 0 ||
		     (pop3 && !found && !*reuse_r &&
		      state_uid_other_size(s->st, &k, &other, &err) < 0))) {
			folder_fail(s, UTIL_FAIL_LOCAL, err);
			return -1;
		}
		*reuse_r = *reuse_r || other;
		/* \Deleted by another client: theirs to expunge. */
		m->no_delete = l->msgs[i].deleted && !(found && seen.deleting);
		if (!found)
			continue;
		m->seen = true;
		m->verified = seen.origin[0] == '\0' && seen.target[0] != '\0';
		m->first_archived = seen.first_archived;
		state_seen_free(&seen);
	}
	return 0;
}

/* One read snapshot for the whole listing. */
static int read_state(struct session *s, bool *reuse_r)
{
	char *err = NULL;

	if (state_read_begin(s->st, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	int r = read_records(s, reuse_r);
	state_read_end(s->st);
	return r;
}

static void plan_rules_of(const struct session *s, struct plan_rules *r)
{
	const struct conf_account *a = s->acct;

	*r = (struct plan_rules){
	    .keep = a->keep,
	    .has_uids = s->listing->has_uids,
	    .fetch_all = a->fetch_all || s->opts->fetch_all,
	    .no_delete = s->rekey,
	    .delete_after = a->delete_after,
	    .max_server_size = a->max_server_size,
	    .skip_larger_than = a->skip_larger_than,
	    .fetch_limit = s->fetch_left,
	    .fetch_size_limit = s->size_left,
	    .fetched_before = s->fetched_any,
	};
}

static int run_plan(struct session *s)
{
	struct plan_rules rules;
	const char *why = NULL;

	plan_rules_of(s, &rules);
	if (plan_make(s->pm, s->listing->n, &rules, s->now, s->items, &s->sum,
		      &why) < 0) {
		folder_fail(s, UTIL_FAIL_CONFIG, xstrdup(why));
		return -1;
	}
	return 0;
}

/* Checks the archived copy of listed message I before its server copy
 * goes: a copy that is missing or changed makes it a message to archive
 * again.  Returns 1 when the plan must change, 0, or -1 (failed). */
static int verify_copy(struct session *s, size_t i)
{
	struct state_key k = listing_key(s, i);
	struct state_seen seen;
	bool found = false;
	enum sink_found there = SINK_FOUND;
	char *moved = NULL, *why = NULL, *err = NULL;
	int ret = 0;

	if (state_get(s->st, &k, &seen, &found, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	if (!found)
		return 0;
	const char *path = NULL;
	const struct sink_ops *ops = sink_ops_of_target(seen.target, &path);
	/* An MDA took the message: there is nothing mailhaul can look at. */
	if (ops == NULL || ops->verify == NULL)
		goto out;
	if (ops->verify(s->acct, path, seen.location, seen.archived_size,
			seen.hash, &there, &moved, &why, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		ret = -1;
		goto out;
	}
	if (there != SINK_FOUND) {
		log_warn(s->acct->name,
			 "message %s: the archived copy %s %s is gone or "
			 "changed (%s): archiving it again instead of "
			 "deleting it",
			 k.uid, seen.target, seen.location,
			 why != NULL ? why : "missing");
		s->pm[i].copy_bad = true;
		ret = 1;
	} else if (moved != NULL && !s->opts->dry_run &&
		   state_set_location(s->st, &k, moved, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		ret = -1;
	}
out:
	free(moved);
	free(why);
	state_seen_free(&seen);
	return ret;
}

/* --- POP3 fingerprints: is a known UIDL still the same message? --- */

struct fp_check {
	struct session *s;
	size_t *idx;
	size_t n;
	bool changed;
};

static int fp_begin(void *ctx, size_t i)
{
	struct session *s = ((struct fp_check *)ctx)->s;

	(void)i;
	EVP_DigestInit_ex(s->header_hash, EVP_sha256(), NULL);
	s->in_header = true;
	s->last = '\n';
	s->msg_bytes = 0;
	return 0;
}

static int fp_data(void *ctx, size_t i, const void *buf, size_t len)
{
	struct session *s = ((struct fp_check *)ctx)->s;

	(void)i;
	if (s->in_header)
		header_feed(s, buf, len);
	s->msg_bytes += len;
	return 0;
}

static int fp_end(void *ctx, size_t i)
{
	struct fp_check *c = ctx;
	struct session *s = c->s;
	struct state_key k = listing_key(s, i);
	struct state_seen seen;
	bool found = false;
	char hex[65], *err = NULL;

	hash_hex(s->header_hash, hex);
	if (state_get(s->st, &k, &seen, &found, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		s->cb_failed = true;
		return UTIL_FAIL_LOCAL;
	}
	if (found && seen.header_hash[0] != '\0' &&
	    strcmp(seen.header_hash, hex) != 0) {
		log_warn(s->acct->name,
			 "the server reuses UIDL %s for a different message: "
			 "archiving it as new",
			 k.uid);
		s->pm[i].seen = false;
		s->pm[i].verified = false;
		c->changed = true;
	}
	state_seen_free(&seen);
	return 0;
}

static int fp_drop(void *ctx, size_t i, const char *why)
{
	struct fp_check *c = ctx;

	(void)why;
	/* Unknown: not deleted this time. */
	c->s->pm[i].no_delete = true;
	c->changed = true;
	return 0;
}

static const struct source_fetch_cb fp_cb = {
	.begin = fp_begin,
	.data = fp_data,
	.end = fp_end,
	.drop = fp_drop,
};

/* A POP3 record keyed by UIDL and size alone never authorises a
 * deletion: the header fingerprint of each message to be deleted (of
 * every known one when the server was caught reusing UIDLs) must match.
 * Returns 1 when the plan must change, 0, or -1 (the session is over). */
static int check_fingerprints(struct session *s, bool all)
{
	struct fp_check c = {.s = s};
	enum util_fail f = UTIL_FAIL_TEMP;
	char *err = NULL;

	if (s->info.uidvalidity != 0 || !s->listing->has_uids ||
	    s->src_ops->fetch_headers == NULL)
		return 0;
	c.idx = xcalloc(s->listing->n + 1, sizeof(*c.idx));
	for (size_t i = 0; i < s->listing->n; i++)
		if (s->pm[i].seen &&
		    (all || s->items[i].action == PLAN_DELETE))
			c.idx[c.n++] = i;
	int r = c.n == 0 ? 0
			 : s->src_ops->fetch_headers(s->src, c.idx, c.n, &fp_cb,
						     &c, &f, &err);
	free(c.idx);
	if (r < 0) {
		if (!s->cb_failed)
			folder_fail(s, f, err);
		else
			free(err);
		return -1;
	}
	return c.changed ? 1 : 0;
}

/* Plans the folder: reads the state, plans, checks what would be deleted
 * (archived copy there, POP3 fingerprint the same) and plans again where
 * a check failed.  Returns 0, or -1 (failed). */
static int plan_folder(struct session *s)
{
	const struct source_listing *l = s->listing;
	bool reuse = false, again = false;

	s->pm = xcalloc(l->n + 1, sizeof(*s->pm));
	s->items = xcalloc(l->n + 1, sizeof(*s->items));
	if (read_state(s, &reuse) < 0 || run_plan(s) < 0)
		return -1;
	int r = check_fingerprints(s, reuse);
	if (r < 0)
		return -1;
	again = r > 0;
	for (size_t i = 0; i < l->n; i++) {
		if (s->items[i].action != PLAN_DELETE || !s->pm[i].seen)
			continue;
		if ((r = verify_copy(s, i)) < 0)
			return -1;
		again = again || r > 0;
	}
	return again ? run_plan(s) : 0;
}

/* skip_larger_than: each such message is reported once. */
static void report_too_large(struct session *s)
{
	char *err = NULL;

	for (size_t i = 0; i < s->listing->n; i++) {
		const struct source_msg *m = &s->listing->msgs[i];
		struct state_key k = listing_key(s, i);
		bool first = false;
		if (s->items[i].why != PLAN_WHY_TOO_LARGE || m->uid[0] == '\0')
			continue;
		if (state_skipped_note(s->st, &k, &first, &err) < 0) {
			log_warn(s->acct->name, "%s", err);
			free(err);
			return;
		}
		if (first)
			log_warn(s->acct->name,
				 "message %s (%" PRIu64 " bytes) is larger "
				 "than skip_larger_than: not downloaded, not "
				 "deleted",
				 m->uid, m->size);
	}
}

/* "folder "NAME": " where the source has folders, else "" (caller
 * frees). */
static char *folder_label(const struct session *s)
{
	return s->folder->name[0] != '\0'
		       ? xasprintf("folder \"%s\": ", s->folder->display)
		       : xstrdup("");
}

/* --dry-run: the plan, one line per message that would be touched. */
static void print_plan(struct session *s)
{
	const struct source_listing *l = s->listing;
	const char *name = s->acct->name;
	char bytes[32], *label = folder_label(s);

	for (size_t i = 0; i < l->n; i++) {
		const struct plan_item *it = &s->items[i];
		const char *verb = NULL;
		switch (it->action) {
		case PLAN_FETCH:
			verb = "fetch";
			break;
		case PLAN_FETCH_DELETE:
			verb = "fetch+delete";
			break;
		case PLAN_DELETE:
			verb = "delete";
			break;
		case PLAN_SKIP:
			if (it->why != PLAN_WHY_NONE)
				verb = "skip";
			break;
		}
		if (verb == NULL)
			continue;
		printf("%s: %swould %s %s (%" PRIu64 " bytes): %s\n", name,
		       label, verb,
		       l->msgs[i].uid[0] != '\0' ? l->msgs[i].uid : "(no uid)",
		       l->msgs[i].size, plan_why_name(it->why));
	}
	util_human_bytes(s->sum.fetch_bytes, bytes, sizeof(bytes));
	printf("%s: %swould fetch %zu (%s), would delete %zu, "
	       "%zu too large, %zu deferred\n",
	       name, label, s->sum.fetch, bytes, s->sum.delete,
	       s->sum.too_large, s->sum.deferred);
	fflush(stdout);
	free(label);
}

static int plan_listing(struct session *s, size_t **fetch_r, size_t *n_r)
{
	const struct source_listing *l = s->listing;

	if (plan_folder(s) < 0)
		return -1;
	if (s->opts->dry_run)
		print_plan(s);
	else
		report_too_large(s);
	if (s->acct->keep && s->acct->max_server_size > 0 &&
	    s->sum.left_bytes > s->acct->max_server_size) {
		char *label = folder_label(s);
		log_warn(s->acct->name,
			 "%s%" PRIu64 " bytes stay on the server, more than "
			 "max_server_size: the rest is not archived yet or "
			 "may not be deleted",
			 label, s->sum.left_bytes);
		free(label);
	}
	/* The budget is the account's, over all its folders. */
	s->fetch_left -= s->sum.fetch <= s->fetch_left ? s->sum.fetch
						       : s->fetch_left;
	s->size_left -= s->sum.fetch_bytes <= s->size_left ? s->sum.fetch_bytes
							   : s->size_left;
	s->fetched_any = s->fetched_any || s->sum.fetch > 0;
	s->res->skipped += s->sum.too_large;
	s->res->deferred += s->sum.deferred;
	if (s->sum.deferred > 0)
		s->folder_clean = false;
	size_t *fetch = xcalloc(l->n + 1, sizeof(*fetch)), n = 0;
	s->del = xcalloc(l->n + 1, sizeof(*s->del));
	for (size_t i = 0; i < l->n && !s->opts->dry_run; i++) {
		enum plan_action a = s->items[i].action;
		if (a == PLAN_FETCH || a == PLAN_FETCH_DELETE) {
			fetch[n++] = i;
			s->total_bytes += l->msgs[i].size;
		} else if (a == PLAN_DELETE) {
			s->del[s->del_n++] = i;
		}
	}
	s->total_msgs += n;
	s->planned = n;
	*fetch_r = fetch;
	*n_r = n;
	return 0;
}

/* A scan callback that stops at the first message. */
static int scan_stop(void *ctx, const char *location)
{
	(void)ctx;
	(void)location;
	return 1;
}

/* Opens the sink for the current folder, or keeps the open one when the
 * folder maps to the same place. */
static int open_sink(struct session *s)
{
	const struct sink_ops *ops = sink_ops_for(s->acct->target);
	char *path = NULL, *err = NULL;
	unsigned flags = 0;

	if (folder_target(s->acct->target, s->acct->layout,
			  s->acct->target_path, s->folder->display,
			  s->folder->sep, &path, &flags, &err) < 0) {
		/* The text names the folder already. */
		s->folder_clean = false;
		session_fail(s, UTIL_FAIL_CONFIG, err);
		return -1;
	}
	if (s->sink != NULL && strcmp(path, s->sink_path) == 0) {
		free(path);
		return 0;
	}
	if (s->sink != NULL)
		s->sink->ops->close(&s->sink);
	free(s->sink_path);
	free(s->target);
	s->sink_path = path;
	s->target = xasprintf("%s:%s", ops->name, path);
	if (ops->open(s->acct, path, flags, &s->sink, &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	return 0;
}

/* Does the target already hold mail that the state knows nothing of (no
 * record of the account, none of any account in this target: the state
 * was lost, or the target is another tool's)?  Archiving N messages into
 * it would then likely archive them twice: refused, unless a handful or
 * --force.  Returns true when refused. */
#define HANDFUL 5
static bool archive_unknown(struct session *s, size_t n)
{
	const struct sink_ops *ops = s->sink->ops;
	static const struct sink_scan_cb any = {.begin = scan_stop};
	char *err = NULL;

	uint64_t known = 0;
	bool target_known = false;

	if (s->archive_checked || s->clock_known || s->opts->force ||
	    n <= HANDFUL || ops->scan == NULL)
		return false;
	s->archive_checked = true;
	/* Counted now: what earlier folders of this poll archived is known,
	 * and so is a target that other accounts share. */
	if (state_count(s->st, s->acct->name, &known, &err) < 0 ||
	    (known == 0 &&
	     state_target_known(s->st, s->target, &target_known, &err) < 0)) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return true;
	}
	if (known > 0 || target_known)
		return false;
	int r = ops->scan(s->acct, s->sink_path, &any, NULL, &err);
	if (r < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return true;
	}
	if (r == 0)
		return false;
	s->refused = true;
	session_fail(s, UTIL_FAIL_CONFIG,
		     xasprintf("%s already holds mail but the state has no "
			       "record of this account, so %zu messages may "
			       "be archived twice; run \"mailhaul reindex -a "
			       "%s\" to record what is there, or poll once "
			       "with --force to archive them anyway",
			       s->target, n, s->acct->name));
	return true;
}

/* Fetches what the plan says; whatever happens, every complete message
 * is made durable and recorded, and a partial one is dropped.  Returns
 * -1 when the connection can no longer be used. */
static int fetch_planned(struct session *s, const size_t *fetch, size_t n)
{
	enum util_fail f = UTIL_FAIL_NONE;
	char *err = NULL;
	uint64_t before = s->res->new_msgs + s->res->rekeyed;

	if (n == 0)
		return 0;
	if (open_sink(s) < 0)
		return 0;
	if (archive_unknown(s, n))
		return -1;
	int r = s->src_ops->fetch(s->src, fetch, n, &session_fetch_cb, s, &f,
				  &err);
	if (s->in_msg) {
		s->sink->ops->abort(s->sink);
		s->in_msg = false;
	}
	if (r < 0 && !s->cb_failed)
		folder_fail(s, f != UTIL_FAIL_NONE ? f : UTIL_FAIL_TEMP, err);
	else
		free(err);
	s->cb_failed = false;
	if (batch_flush(s) != 0 || r < 0)
		return -1;
	if (s->res->new_msgs + s->res->rekeyed - before < n) {
		/* The server sent no reply for some: gone meanwhile, or
		 * dropped above.  The next poll looks again. */
		s->folder_clean = false;
	}
	return 0;
}

/* Deletes what is recorded and due in the current folder. */
static int delete_due(struct session *s)
{
	enum util_fail f = UTIL_FAIL_TEMP;
	char *err = NULL, *note = NULL;
	bool done = false;

	if (s->del_n == 0)
		return 0;
	/* Flags set before a crash cut the EXPUNGE off are known for ours
	 * on the next poll; another client's are never touched. */
	struct state_key *keys = xcalloc(s->del_n, sizeof(*keys));
	for (size_t i = 0; i < s->del_n; i++)
		keys[i] = listing_key(s, s->del[i]);
	int r = state_mark_deleting(s->st, keys, s->del_n, &err);
	free(keys);
	if (r < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	if (s->src_ops->mark_deleted(s->src, s->del, s->del_n, &f, &err) < 0 ||
	    s->src_ops->expunge(s->src, &done, &note, &f, &err) < 0) {
		folder_fail(s, f, err);
		return -1;
	}
	if (note != NULL) {
		log_warn(s->acct->name, "folder \"%s\": %s",
			 s->folder->display, note);
		free(note);
	} else if (done) {
		s->res->deleted += s->del_n;
	} else {
		s->pending_deletes += s->del_n;
	}
	return 0;
}

static bool fetch_all(const struct session *s)
{
	return s->acct->fetch_all || s->opts->fetch_all;
}

/* Compares the folder with what the last poll left: sets s->rekey, and
 * returns true when nothing can have changed (the fast path). */
static bool folder_unchanged(struct session *s, const struct state_folder *prev,
			     bool found)
{
	bool other = false;
	char *err = NULL;

	if (s->info.uidvalidity == 0)
		return false;
	if (found && prev->uidvalidity != s->info.uidvalidity)
		s->rekey = true;
	else if (!found)
		/* When in doubt (a database error), the careful mode: match
		 * by content, delete nothing. */
		s->rekey = state_folder_has_other(s->st, s->acct->name,
						  s->folder->name,
						  s->info.uidvalidity, &other,
						  &err) < 0 ||
			   other;
	free(err);
	if (s->rekey)
		log_warn(s->acct->name,
			 "folder \"%s\": UIDVALIDITY changed to %" PRIu64
			 "; matching messages by content, nothing is deleted "
			 "in this folder during this poll",
			 s->folder->display, s->info.uidvalidity);
	/* With keep = no, anything still in the folder may be due for
	 * deletion (keep was yes before, or a deletion did not go through):
	 * only an empty folder is known to need nothing. */
	return found && !s->rekey && prev->clean && s->info.uidnext != 0 &&
	       prev->uidnext == s->info.uidnext &&
	       (s->acct->keep || s->info.exists == 0) && !fetch_all(s) &&
	       (prev->next_due == 0 || s->now < prev->next_due);
}

static void folder_save(struct session *s)
{
	struct state_folder f = {
	    .uidvalidity = s->info.uidvalidity,
	    .uidnext = s->info.uidnext,
	    .highest_uid = s->highest_uid,
	    /* Deletions held back during a re-key are due next time. */
	    .clean = s->folder_clean && !(s->rekey && !s->acct->keep),
	    .next_due = s->sum.next_due,
	};
	char *err = NULL;

	/* Until every message was matched, the folder stays in re-key
	 * mode: the row keeps the old UIDVALIDITY, or stays absent. */
	if (s->info.uidvalidity == 0 || (s->rekey && !s->folder_clean))
		return;
	if (state_folder_put(s->st, s->acct->name, s->folder->name, &f,
			     &err) < 0)
		folder_fail(s, UTIL_FAIL_LOCAL, err);
}

static void folder_reset(struct session *s)
{
	free(s->pm);
	free(s->items);
	free(s->del);
	s->pm = NULL;
	s->items = NULL;
	s->del = NULL;
	s->sum = (struct plan_summary){0};
	s->del_n = 0;
	s->listing = NULL;
	s->rekey = false;
	s->folder_clean = true;
	s->planned = 0;
}

static void add_stat(struct session *s, uint64_t msgs, uint64_t bytes,
		     time_t next_due)
{
	struct session_result *r = s->res;

	r->folders = xrealloc(r->folders,
			      (r->n_folders + 1) * sizeof(*r->folders));
	r->folders[r->n_folders++] = (struct session_folder_stat){
	    .folder = xstrdup(s->folder->name),
	    .display = xstrdup(s->folder->display),
	    .server_msgs = msgs,
	    .server_bytes = bytes,
	    .next_due = next_due,
	};
}

/* What the folder holds after the poll: as planned when all went well,
 * else as listed (a failed poll deletes nothing: POP3 does not QUIT, IMAP
 * expunges last).  A listing of the new UIDs only knows the count. */
static void folder_stat(struct session *s, uint64_t from, bool ok)
{
	const struct source_listing *l = s->listing;
	uint64_t msgs = l->n, bytes = 0;

	for (size_t i = 0; i < l->n; i++)
		bytes += l->msgs[i].size;
	if (ok && !s->opts->dry_run) {
		msgs = s->sum.left_msgs;
		bytes = s->sum.left_bytes;
	}
	if (from > 0) {
		msgs = s->info.exists;
		bytes = UINT64_MAX;
	}
	add_stat(s, msgs, bytes, s->sum.next_due);
}

/* Can this poll delete anything?  (IMAP opens the folder read-write.) */
static bool may_delete(const struct session *s)
{
	return !s->opts->dry_run &&
	       (!s->acct->keep || s->acct->delete_after > 0 ||
		s->acct->max_server_size > 0);
}

/* Rules that look at the messages archived before need all of them. */
static bool whole_listing(const struct session *s)
{
	return s->acct->delete_after > 0 || s->acct->max_server_size > 0 ||
	       fetch_all(s);
}

/* Polls one folder.  Returns -1 when the session cannot go on. */
static int poll_folder(struct session *s, const struct source_folder *fo)
{
	struct state_folder prev = {0};
	bool found = false;
	enum util_fail f = UTIL_FAIL_TEMP;
	char *err = NULL;
	size_t *fetch = NULL, n = 0;
	int ret = -1;

	folder_reset(s);
	s->folder = fo;
	if (fo->refused != NULL) {
		session_fail(s, UTIL_FAIL_CONFIG, xstrdup(fo->refused));
		return 0;
	}
	if (state_folder_get(s->st, s->acct->name, fo->name, &prev, &found,
			     &err) < 0) {
		folder_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	if (s->src_ops->select(s->src, fo, may_delete(s), &s->info, &f,
			       &err) < 0) {
		folder_fail(s, f, err);
		return -1;
	}
	s->highest_uid = found ? prev.highest_uid : 0;
	if (folder_unchanged(s, &prev, found)) {
		log_debug(s->acct->name, "folder \"%s\": unchanged",
			  fo->display);
		s->res->on_server += s->info.exists;
		add_stat(s, s->info.exists, UINT64_MAX, prev.next_due);
		if (s->opts->dry_run) {
			char *label = folder_label(s);
			printf("%s: %sunchanged since the last poll: nothing "
			       "to fetch or delete\n",
			       s->acct->name, label);
			free(label);
		}
		return 0;
	}
	/* keep = yes: what was there at the last clean poll is archived, so
	 * only newer UIDs matter.  keep = no: every message may be due. */
	uint64_t from = found && !s->rekey && prev.clean && s->acct->keep &&
					!whole_listing(s)
				? prev.uidnext
				: 0;
	if (s->src_ops->list(s->src, from, &s->listing, &f, &err) < 0) {
		folder_fail(s, f, err);
		return -1;
	}
	uint64_t new_before = s->res->new_msgs, del_before = s->res->deleted;
	if (plan_listing(s, &fetch, &n) == 0 &&
	    (s->opts->dry_run ||
	     (fetch_planned(s, fetch, n) == 0 && delete_due(s) == 0)))
		ret = 0;
	if (fo->name[0] != '\0')
		log_debug(s->acct->name,
			  "folder \"%s\": %zu listed, %" PRIu64
			  " archived, %" PRIu64 " deleted",
			  fo->display, s->listing->n,
			  s->res->new_msgs - new_before,
			  s->res->deleted - del_before);
	free(fetch);
	if (ret == 0 && !s->opts->dry_run)
		folder_save(s);
	s->res->on_server += s->info.exists != 0 ? s->info.exists
						 : s->listing->n;
	folder_stat(s, from, ret == 0 && s->error == NULL);
	return ret;
}

/* --- recovery --- */

/* Settles the journal entries IN[0..N-1] of one target: a message that
 * got there whole is recorded; one that did not is forgotten (a part of
 * it is cut away by the sink), and fetched again.  Returns 0, or -1 (the
 * failure is the session's). */
static int recover_target(struct session *s, struct state_intent *in,
			  size_t n)
{
	const char *target = in[0].rec.target, *path = NULL;
	const struct sink_ops *ops = sink_ops_of_target(target, &path);
	struct sink_intent *si = xcalloc(n, sizeof(*si));
	struct state_record *found = xcalloc(n, sizeof(*found));
	struct state_key *gone = xcalloc(n, sizeof(*gone));
	size_t n_found = 0, n_gone = 0;
	char *err = NULL;
	int ret = -1;

	if (ops == NULL || ops->recover == NULL) {
		session_fail(s, UTIL_FAIL_LOCAL,
			     xasprintf("journal: unknown target \"%s\"",
				       target));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		si[i] = (struct sink_intent){.location = in[i].rec.location,
					     .start = in[i].start,
					     .disk_size = in[i].disk_size,
					     .disk_hash = in[i].disk_hash,
					     .prefix = in[i].prefix,
					     .prefix_len = in[i].prefix_len};
	int r = ops->recover(s->acct, path, si, n, &err);
	if (r < 0) {
		char *m = xasprintf("recovery after an interruption: %s", err);
		free(err);
		session_fail(s, r == SINK_LOCKED ? UTIL_FAIL_TEMP
						 : UTIL_FAIL_LOCAL,
			     m);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (si[i].found == SINK_FOUND) {
			found[n_found] = in[i].rec;
			if (si[i].moved_to != NULL)
				found[n_found].location = si[i].moved_to;
			n_found++;
			continue;
		}
		if (si[i].found == SINK_FOREIGN)
			log_warn(s->acct->name,
				 "%s; message %s stays on the server and is "
				 "fetched again",
				 si[i].note, in[i].rec.key.uid);
		gone[n_gone++] = in[i].rec.key;
	}
	if (state_record_batch(s->st, found, n_found, &err) < 0 ||
	    state_unintend_batch(s->st, gone, n_gone, &err) < 0) {
		session_fail(s, UTIL_FAIL_LOCAL, err);
		goto out;
	}
	if (n_found > 0)
		log_info(s->acct->name,
			 "recovered %zu message(s) archived to %s before an "
			 "interruption",
			 n_found, target);
	ret = 0;
out:
	for (size_t i = 0; i < n; i++) {
		free(si[i].moved_to);
		free(si[i].note);
	}
	free(si);
	free(found);
	free(gone);
	return ret;
}

/* Before anything else, settles what an interrupted run left in the
 * journal.  Returns 0, or -1 (the failure is the session's). */
static int recover_journal(struct session *s)
{
	struct state_intent *in = NULL;
	size_t n = 0;
	char *err = NULL;
	int ret = 0;

	if (state_intents(s->st, s->acct->name, &in, &n, &err) < 0) {
		session_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	for (size_t i = 0, j; i < n && ret == 0; i = j) {
		for (j = i + 1; j < n && strcmp(in[j].rec.target,
						in[i].rec.target) == 0;)
			j++;
		ret = recover_target(s, in + i, j - i);
	}
	state_intents_free(&in, n);
	return ret;
}

/* --- the poll --- */

/* Reads the expiry clock and moves it as plan_clock allows.  A state
 * with a clock has polled the account before: with no record of it, the
 * user forgot them on purpose.  Returns 0, or -1 (failed). */
static int start_clock(struct session *s)
{
	time_t high = 0;
	char *err = NULL;

	if (state_clock_get(s->st, s->acct->name, &high, &err) < 0) {
		session_fail(s, UTIL_FAIL_LOCAL, err);
		return -1;
	}
	s->clock_known = high > 0;
	s->now = plan_clock(high, time(NULL));
	if (high > 0 && s->now == high && time(NULL) < high)
		log_debug(s->acct->name,
			  "the system clock is behind the last poll's: "
			  "expiry keeps the recorded time");
	return 0;
}

/* Records the expiry clock once the poll is over, unless it was a dry
 * run or refused for a lost state (which must refuse again). */
static void save_clock(struct session *s)
{
	char *err = NULL;

	if (s->opts->dry_run || s->refused || s->now == 0)
		return;
	if (state_clock_put(s->st, s->acct->name, s->now, &err) < 0)
		session_fail(s, UTIL_FAIL_LOCAL, err);
}

static int open_source(struct session *s, const struct source_folder **f_r,
		       size_t *n_r)
{
	enum util_fail f = UTIL_FAIL_TEMP;
	char *err = NULL;

	if (source_open_account(s->src_ops, s->acct, &s->src, f_r, n_r, &f,
				&err) < 0) {
		session_fail(s, f, err);
		return -1;
	}
	s->res->listed = true;
	return 0;
}

/* Ends the session; deletions waiting for it (POP3) count only once the
 * server confirmed. */
static void finish(struct session *s, bool ok)
{
	char *err = NULL;

	s->listing = NULL;
	if (s->src_ops->close(&s->src, ok, &err) < 0 && ok) {
		session_fail(s, UTIL_FAIL_TEMP, err);
		err = NULL;
		ok = false;
	}
	free(err);
	if (ok)
		s->res->deleted += s->pending_deletes;
	if (s->res->on_server >= s->res->deleted)
		s->res->on_server -= s->res->deleted;
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
	free(s->pm);
	free(s->items);
	free(s->del);
	free(s->target);
	free(s->sink_path);
}

void session_result_free(struct session_result *res)
{
	for (size_t i = 0; i < res->n_folders; i++) {
		free(res->folders[i].folder);
		free(res->folders[i].display);
	}
	free(res->folders);
	free(res->error);
	res->folders = NULL;
	res->n_folders = 0;
	res->error = NULL;
}

enum util_fail session_poll(const struct conf_account *acct, struct state *st,
			    const struct session_opts *opts,
			    struct session_result *res)
{
	static const struct session_opts no_opts;
	struct session s = {.acct = acct, .st = st, .res = res,
			    .opts = opts != NULL ? opts : &no_opts};
	const struct source_folder *folders = NULL;
	size_t n_folders = 0;

	memset(res, 0, sizeof(*res));
	s.src_ops = source_ops_for(acct->protocol);
	if (s.src_ops == NULL) {
		session_fail(&s, UTIL_FAIL_CONFIG,
			     xasprintf("protocol %s is not supported",
				       conf_protocol_name(acct->protocol)));
		goto out;
	}
	s.hash = EVP_MD_CTX_new();
	s.header_hash = EVP_MD_CTX_new();
	s.batch_max = crash_batch(BATCH_MSGS);
	s.fetch_left = acct->fetch_limit > 0 ? acct->fetch_limit : UINT64_MAX;
	s.size_left = acct->fetch_size_limit > 0 ? acct->fetch_size_limit
						 : UINT64_MAX;
	if (start_clock(&s) < 0 ||
	    (!s.opts->dry_run && recover_journal(&s) < 0) ||
	    open_source(&s, &folders, &n_folders) < 0)
		goto out;
	bool ok = true;
	for (size_t i = 0; i < n_folders && ok; i++)
		ok = poll_folder(&s, &folders[i]) == 0;
	s.folder = NULL;
	log_progress_end();
	/* POP3 applies its deletions at QUIT: only when nothing failed. */
	finish(&s, ok && s.error == NULL && !s.opts->dry_run);
	save_clock(&s);
out:
	session_free(&s);
	res->error = s.error;
	return res->fail;
}
