/* SPDX-License-Identifier: ISC */
/* Where the messages of one server folder go in a local target: the
 * folder layouts (flat, Maildir++, tree, one mbox per folder), and the
 * refusal of any folder name that would leave the target.  Pure. */
#ifndef MAILHAUL_FOLDER_H
#define MAILHAUL_FOLDER_H

#include "conf.h"

/* Sets *path_r (caller frees) to the target for the folder DISPLAY (its
 * UTF-8 name, passed through byte for byte; "" for a source without
 * folders, which is INBOX) whose hierarchy separator on the server is SEP
 * ('\0' none: the whole name is one part), under BASE (the configured
 * path):
 *
 *   maildir, flat      BASE for every folder
 *   maildir, maildir++ BASE for INBOX; BASE/.Lists.dev for "Lists/dev"
 *                      ('.' inside a name part written as "\2e", and '\'
 *                      as "\5c", so that two names never share a path),
 *                      with *open_flags_r = SINK_OPEN_MAILDIRFOLDER
 *   maildir, tree      BASE for INBOX; BASE/Lists/dev
 *   mbox               BASE for every folder
 *   mboxdir            BASE/INBOX; BASE/Lists/dev
 *
 * *open_flags_r is 0 but for a Maildir++ subfolder.  INBOX is matched
 * case-insensitively, as the first name part only.  Folders under INBOX
 * ("INBOX/Sent", or "INBOX.Sent" with SEP '.') go where the same name
 * without "INBOX" and its separator goes ("Sent": BASE/.Sent, BASE/Sent):
 * Courier and Cyrus list every folder under INBOX, Maildir++ stores them
 * beside it, and an mboxdir INBOX is a file that can have no children.  A
 * server with both "INBOX/Sent" and "Sent" thus has them share one local
 * folder (both are archived, each message once); "INBOX/INBOX" is
 * refused, as it would be INBOX itself.
 *
 * Where the name makes a path (maildir++, tree, mboxdir), refuses, with
 * *err_r naming the folder (control characters shown as \xNN): an empty
 * name part (leading, trailing or doubled separator), "." or "..", '/'
 * inside a name part, control characters (C0, DEL, C1; NUL cannot occur
 * in a C string, mutf7_decode refuses it), in the tree layout the parts
 * "cur", "new" and "tmp" (the Maildir's own directories above them), and
 * in mboxdir a part ending in ".lock" (the mbox sink's dotlock name);
 * also an empty BASE.  In flat and mbox every name is accepted.  An
 * mboxdir folder that has both messages and subfolders cannot be stored
 * (BASE/Lists is a file, so BASE/Lists/dev cannot be made): the sink's
 * open reports that.  Returns 0, or -1 and nothing set but *err_r (caller
 * frees). */
int folder_target(enum conf_target target, enum conf_layout layout,
		  const char *base, const char *display, char sep,
		  char **path_r, unsigned *open_flags_r, char **err_r);

#endif
