/* SPDX-License-Identifier: ISC */
/* The seen-state database (SQLite): one record per archived message. */
#ifndef MAILHAUL_STATE_H
#define MAILHAUL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Identity of a message on a server.  POP3: FOLDER "" and UIDVALIDITY 0,
 * UID the UIDL, SIZE the listed size.  IMAP: (FOLDER, UIDVALIDITY, UID). */
struct state_key {
	const char *account;
	const char *folder;
	uint64_t uidvalidity;
	const char *uid;
	uint64_t size;
};

/* What is recorded once a message is durable in its target. */
struct state_record {
	struct state_key key;
	uint64_t archived_size;     /* bytes written, as delivered */
	char hash[65];              /* SHA-256 of the delivered bytes, hex */
	char header_hash[65];       /* SHA-256 of the header section, hex */
	const char *target;         /* "maildir:/path" or "mbox:/path" */
	const char *location;       /* file name under new/, or "mbox:OFFSET" */
	time_t first_archived;
	bool keep_existing;         /* a record already there stays as it is
				     * (fetch_all: another target's copy) */
};

struct state;

/* Opens (creating it, its directory 0700 and the file 0600) the database
 * at PATH in WAL mode with synchronous=FULL.  Returns 0, or -1 with
 * *err_r. */
int state_open(const char *path, struct state **st_r, char **err_r);
void state_close(struct state **st);

/* Sets *seen_r: is a message with KEY recorded?  A record imported from
 * another tool that did not know the size (size 0, origin not '') matches
 * any size.  0, or -1 with *err_r. */
int state_is_seen(struct state *st, const struct state_key *key, bool *seen_r,
		  char **err_r);
/* The same, and *deleting_r (may be NULL): did mailhaul set out to
 * delete it (state_mark_deleting)? */
int state_lookup(struct state *st, const struct state_key *key, bool *seen_r,
		 bool *deleting_r, char **err_r);

/* Notes durably, before an IMAP server is told to flag them \Deleted,
 * that mailhaul deletes the N recorded messages KEYS: should the
 * EXPUNGE not follow, the next poll knows the flags for its own.  0, or
 * -1 with *err_r. */
int state_mark_deleting(struct state *st, const struct state_key *keys,
			size_t n, char **err_r);

/* Records a batch of messages in one durable transaction, and closes
 * their journal entries.  Returns 0 once every record is on disk, or -1
 * with *err_r and nothing recorded. */
int state_record_batch(struct state *st, const struct state_record *recs,
		       size_t n, char **err_r);

/* The delivery journal.  Before a batch is published in its target, each
 * message's entry says where it goes and what will be there, so that
 * recovery after a crash can tell a published message (record it) from
 * one that never arrived or arrived in part (forget it; cut the part). */
struct state_intent {
	struct state_record rec;  /* the record to be; rec.location is
				   * where the message goes */
	uint64_t start;           /* mbox: where our bytes begin */
	uint64_t disk_size;       /* bytes at the location */
	char disk_hash[65];       /* their SHA-256, hex */
	unsigned char prefix[256]; /* mbox: the first bytes of them */
	size_t prefix_len;
};

/* Writes N journal entries in one durable transaction.  0, or -1 with
 * *err_r and nothing written. */
int state_intend_batch(struct state *st, const struct state_intent *in,
		       size_t n, char **err_r);

/* Drops the journal entries of the N KEYS in one durable transaction.
 * 0, or -1 with *err_r. */
int state_unintend_batch(struct state *st, const struct state_key *keys,
			 size_t n, char **err_r);

/* Reads every journal entry of ACCOUNT, ordered by target and start,
 * into *in_r (free with state_intents_free).  0, or -1 with *err_r. */
int state_intents(struct state *st, const char *account,
		  struct state_intent **in_r, size_t *n_r, char **err_r);
void state_intents_free(struct state_intent **in, size_t n);

/* What the last poll of an IMAP folder left behind: the fast path skips
 * a folder whose UIDVALIDITY and UIDNEXT are unchanged when CLEAN. */
struct state_folder {
	uint64_t uidvalidity;   /* the UIDVALIDITY the records are keyed by */
	uint64_t uidnext;       /* UIDNEXT when the folder was selected */
	uint64_t highest_uid;   /* highest UID archived so far */
	bool clean;             /* every message below UIDNEXT was handled:
				 * archived, and deleted where due */
	time_t next_due;        /* earliest delete_after expiry of a message
				 * left there (expiry clock); 0 none */
};

/* Holds one read snapshot across many lookups (state_get for a whole
 * listing): SQLite then takes its file locks once, not twice a lookup.
 * Nothing may be written between the two. */
int state_read_begin(struct state *st, char **err_r);
void state_read_end(struct state *st);

/* Reads the folder row of ACCOUNT/FOLDER: *found_r false when there is
 * none.  0, or -1 with *err_r. */
int state_folder_get(struct state *st, const char *account, const char *folder,
		     struct state_folder *f_r, bool *found_r, char **err_r);

/* Writes the folder row durably.  0, or -1 with *err_r. */
int state_folder_put(struct state *st, const char *account, const char *folder,
		     const struct state_folder *f, char **err_r);

/* Sets *found_r: has ACCOUNT/FOLDER records under a UIDVALIDITY other
 * than UIDVALIDITY?  0, or -1 with *err_r. */
int state_folder_has_other(struct state *st, const char *account,
			   const char *folder, uint64_t uidvalidity,
			   bool *found_r, char **err_r);

/* After a UIDVALIDITY change: looks for a message of ACCOUNT/FOLDER that
 * was archived under another UIDVALIDITY with ARCHIVED_SIZE bytes and
 * content HASH, and whose archived copy no record under UIDVALIDITY
 * points to yet, nor TAKEN(CTX, target, location) says is taken (records
 * not yet written; TAKEN may be NULL).  On a match *found_r is true and
 * *target_r, *location_r (caller frees) and *first_r describe it.  0, or
 * -1 with *err_r. */
int state_find_by_content(struct state *st, const char *account,
			  const char *folder, uint64_t uidvalidity,
			  uint64_t archived_size, const char *hash,
			  bool (*taken)(void *ctx, const char *target,
					const char *location),
			  void *ctx, bool *found_r, char **target_r,
			  char **location_r, time_t *first_r, char **err_r);

/* Counts the records of ACCOUNT.  0, or -1 with *err_r. */
int state_count(struct state *st, const char *account, uint64_t *n_r,
		char **err_r);

/* A seen record as read back. */
struct state_seen {
	uint64_t size;          /* 0: imported without a size */
	bool deleting;
	char origin[16];        /* "" archived by mailhaul; else the tool */
	uint64_t archived_size;
	char hash[65];
	char header_hash[65];
	char *target;           /* "" when imported */
	char *location;
	time_t first_archived;
};

/* Reads the record of KEY as state_lookup finds it: *found_r, and the
 * record into *seen_r (free with state_seen_free).  0, or -1 with
 * *err_r. */
int state_get(struct state *st, const struct state_key *key,
	      struct state_seen *seen_r, bool *found_r, char **err_r);
void state_seen_free(struct state_seen *seen);

/* Sets *found_r: is KEY's uid recorded with another (known) size?  A
 * POP3 server that reuses UIDLs gives itself away by this.  0, or -1. */
int state_uid_other_size(struct state *st, const struct state_key *key,
			 bool *found_r, char **err_r);

/* A reader moved the archived copy of KEY: the record follows it. */
int state_set_location(struct state *st, const struct state_key *key,
		       const char *location, char **err_r);

/* The expiry clock of ACCOUNT: the latest clock a poll used (0 none);
 * put never moves it backwards.  0, or -1 with *err_r. */
int state_clock_get(struct state *st, const char *account, time_t *high_r,
		    char **err_r);
int state_clock_put(struct state *st, const char *account, time_t high,
		    char **err_r);

/* Notes that KEY was not fetched for its size: *first_r is true the
 * first time only, so that it is reported once.  0, or -1. */
int state_skipped_note(struct state *st, const struct state_key *key,
		       bool *first_r, char **err_r);

/* A message another tool (fetchmail, mpop, getmail) fetched, as its state
 * file names it: KEY.size is 0 when the file does not say (it then
 * matches any listed size, see state_lookup). */
struct state_import_item {
	struct state_key key;
	time_t first_archived;   /* when the tool fetched it, or the import */
};

/* Writes a seen record (origin ORIGIN, no archived copy known) for each
 * of the N ITEMS that has none yet under its account, folder,
 * UIDVALIDITY and UID (whatever the size), in one durable transaction;
 * existing records are never changed.  *added_r says how many were
 * written.  Returns 0, or -1 with *err_r and nothing written. */
int state_import_batch(struct state *st, const char *origin,
		       const struct state_import_item *items, size_t n,
		       uint64_t *added_r, char **err_r);

/* What one poll of an account found, as `mailhaul status` shows it. */
struct state_poll {
	time_t finished;
	const char *result;     /* "ok", "temporary failure", ... */
	const char *error;      /* one line; NULL when there was none */
};

/* What one poll found in one folder. */
struct state_folder_poll {
	const char *folder;     /* as the server spells it (state key) */
	const char *display;    /* UTF-8 */
	uint64_t server_msgs;   /* left on the server */
	uint64_t server_bytes;  /* STATE_BYTES_UNKNOWN: keep what the last
				 * poll found */
	time_t next_due;        /* earliest expiry there; 0 none */
};

#define STATE_BYTES_UNKNOWN UINT64_MAX

/* Writes, in one durable transaction, the account row of ACCOUNT's poll
 * P and the N folder rows F (F may be NULL when N is 0), replacing what
 * an earlier poll wrote for them; other folders' rows stay.  0, or -1
 * with *err_r and nothing written. */
int state_poll_save(struct state *st, const char *account,
		    const struct state_poll *p,
		    const struct state_folder_poll *f, size_t n, char **err_r);

/* One folder of an account, from its records and its last poll. */
struct state_folder_status {
	char *folder;             /* as stored (the state key) */
	char *display;            /* from the last poll; NULL when the folder
				   * is known from records only */
	uint64_t archived_msgs;   /* archived copies mailhaul made */
	uint64_t archived_bytes;  /* their archived_size, summed */
	uint64_t imported;        /* records imported from other tools */
	bool polled;              /* the server_ and next_due fields are set */
	uint64_t server_msgs;
	uint64_t server_bytes;    /* STATE_BYTES_UNKNOWN: never listed */
	time_t next_due;          /* 0: none */
};

struct state_account_status {
	bool polled;              /* has a poll been saved? */
	time_t finished;
	char *result;
	char *error;              /* NULL: none */
	struct state_folder_status *folders;
	size_t n_folders;
};

/* Reads what the state knows of ACCOUNT into *s_r (free with
 * state_status_free): the last poll, and every folder that has records
 * or a poll row, "" first, then INBOX, then by stored name.  An archived
 * copy that several records point to (re-keyed after a UIDVALIDITY
 * change) counts once.  0, or -1 with *err_r. */
int state_status(struct state *st, const char *account,
		 struct state_account_status *s_r, char **err_r);
void state_status_free(struct state_account_status *s);

/* Deletes, in one durable transaction, the seen records of ACCOUNT (of
 * its FOLDER only, unless FOLDER is NULL) with the folders, skipped and
 * folder_polls rows that go with them; *n_r is the number of seen
 * records deleted.  The account_polls row and the expiry clock stay.  0,
 * or -1 with *err_r and nothing deleted. */
int state_forget(struct state *st, const char *account, const char *folder,
		 uint64_t *n_r, char **err_r);

/* Counts the seen records of ACCOUNT/FOLDER (FOLDER NULL: all).  0, or
 * -1 with *err_r. */
int state_count_folder(struct state *st, const char *account,
		       const char *folder, uint64_t *n_r, char **err_r);

/* Counts ACCOUNT's delivery journal entries.  0, or -1 with *err_r. */
int state_journal_count(struct state *st, const char *account, uint64_t *n_r,
			char **err_r);

/* --- reindex: records made from an archive that lost its state --- */

/* Calls CB(CTX, uid, size, imported) for every record of ACCOUNT/FOLDER
 * under UIDVALIDITY; IMPORTED: it came from another tool (origin not
 * ''), so no archived copy is known.  Strings are valid during the call
 * only.  0, or -1 with *err_r. */
int state_reindex_records(struct state *st, const char *account,
			  const char *folder, uint64_t uidvalidity,
			  void (*cb)(void *ctx, const char *uid, uint64_t size,
				     bool imported),
			  void *ctx, char **err_r);

/* Calls CB(CTX, location) for every archived copy in TARGET that a
 * record (of any account) points to.  0, or -1 with *err_r. */
int state_reindex_taken(struct state *st, const char *target,
			void (*cb)(void *ctx, const char *location),
			void *ctx, char **err_r);

/* Records N messages found in the archive, as state_record_batch does,
 * and drops in the same transaction the imported records (origin not
 * '') of the same account, folder, UIDVALIDITY and UID that they
 * replace.  0, or -1 with *err_r and nothing changed. */
int state_reindex_record(struct state *st, const struct state_record *recs,
			 size_t n, char **err_r);

/* Sets *found_r: does a record of any account point into TARGET
 * ("maildir:/path")?  0, or -1 with *err_r. */
int state_target_known(struct state *st, const char *target, bool *found_r,
		       char **err_r);

#endif
