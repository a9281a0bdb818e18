/* SPDX-License-Identifier: ISC */
/* The configuration file, parsed with libconfuse into plain structs.  No
 * cfg_t leaves conf.c. */
#ifndef MAILHAUL_CONF_H
#define MAILHAUL_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

enum conf_protocol {
	CONF_PROTOCOL_POP3 = 0,
	CONF_PROTOCOL_IMAP,
};

enum conf_tls {
	CONF_TLS_IMPLICIT = 0,
	CONF_TLS_STARTTLS,
	CONF_TLS_NONE,
};

enum conf_target {
	CONF_TARGET_MAILDIR = 0,
	CONF_TARGET_MBOX,
	CONF_TARGET_MBOXDIR,       /* one mbox file per folder under a dir */
	CONF_TARGET_MDA,           /* a delivery program, once per message */
};

/* How IMAP folders map into a Maildir target. */
enum conf_layout {
	CONF_LAYOUT_FLAT = 0,      /* every folder into the one Maildir */
	CONF_LAYOUT_MAILDIRPP,     /* .Lists.dev/ subfolders (Maildir++) */
	CONF_LAYOUT_TREE,          /* Lists/dev/ nested Maildirs */
};

struct conf_account {
	char *name;
	enum conf_protocol protocol;
	char *host;
	unsigned port;             /* defaulted by protocol and tls */
	enum conf_tls tls;
	char *tls_ca_file;         /* NULL: the system store */
	bool has_pin;
	unsigned char pin[32];     /* SHA-256 of the leaf certificate (DER) */
	char *user;
	char *password;            /* NULL when password_command is used */
	char *password_command;    /* NULL when password is used */
	enum conf_target target;
	char *target_path;         /* "~" expanded; for mda: the command as
				    * written */
	char *deliver;             /* as written, for messages */
	bool mda_shell;            /* mda: run through /bin/sh -c */
	bool mda_from_line;        /* mda: a From_ line before the message */
	int mda_timeout;           /* mda: seconds before it is killed */
	enum conf_layout layout;   /* folder_layout (Maildir only) */
	char **folders;            /* IMAP names and LIST patterns, UTF-8 */
	size_t n_folders;          /* at least 1 ("INBOX") for IMAP */
	bool keep_flags;           /* server flags -> Maildir info */
	bool expunge_without_uidplus;
	char *move_to;             /* IMAP folder (UTF-8) or NULL */
	bool keep;
	/* Retention rules (0 = not set).  Sizes in bytes, times in seconds. */
	long long delete_after;        /* delete this long after archiving */
	unsigned long long max_server_size;  /* offload above this total */
	unsigned long long skip_larger_than; /* never fetch bigger ones */
	unsigned long long fetch_limit;      /* messages per poll */
	unsigned long long fetch_size_limit; /* bytes per poll */
	bool fetch_all;            /* fetch what was archived before, too */
	int timeout;               /* seconds, for every network wait */
	int line;                  /* where the account block starts */
};

/* Accounts polled at once, each in a worker process of its own: enough
 * to hide many accounts' round trips behind each other, few enough that
 * one host with many accounts does not see a crowd of connections. */
#define CONF_MAX_PARALLEL_DEFAULT 8
#define CONF_MAX_PARALLEL_MAX 64

struct conf {
	char *path;
	char *state_file;          /* "~" expanded */
	enum log_level log_level;
	int lock_timeout;          /* seconds to wait for an account's lock */
	int max_parallel;          /* accounts polled at once */
	struct conf_account *accounts;
	size_t n_accounts;
};

/* Returns the default config path: $XDG_CONFIG_HOME/mailhaul/mailhaul.conf,
 * else ~/.config/mailhaul/mailhaul.conf.  Caller frees. */
char *conf_default_path(void);

/* Returns the default state file: $XDG_STATE_HOME/mailhaul/state.db, else
 * ~/.local/state/mailhaul/state.db.  Caller frees. */
char *conf_default_state_file(void);

/* Parses and validates PATH.  Every problem is reported as one line
 * "FILE:LINE: text" in *err_r (several problems: several lines, joined by
 * '\n'), and also refuses a file holding a password that group or others
 * can read or that another user owns.  Nothing is contacted.  Returns 0 and
 * *conf_r (free with conf_free), or -1 and *err_r (caller frees). */
int conf_load(const char *path, struct conf **conf_r, char **err_r);

/* Like conf_load, from a string; FILE in messages is NAME.  For tests. */
int conf_load_string(const char *name, const char *text, struct conf **conf_r,
		     char **err_r);

void conf_free(struct conf **conf);

/* Returns the account named NAME, or NULL (borrowed). */
const struct conf_account *conf_find_account(const struct conf *conf,
					     const char *name);

const char *conf_protocol_name(enum conf_protocol p);
const char *conf_tls_name(enum conf_tls t);

#endif
