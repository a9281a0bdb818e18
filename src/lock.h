/* SPDX-License-Identifier: ISC */
/* One lock per account, so that two mailhaul processes never poll the
 * same account at once: an OFD fcntl lock on a file named after the
 * account in the "locks" directory beside the state database.  The holder
 * writes its pid into the file, so that a process that finds it taken can
 * say by whom.  The kernel drops the lock when the holder dies, kill -9
 * included: no stale locks to clean up. */
#ifndef MAILHAUL_LOCK_H
#define MAILHAUL_LOCK_H

struct lock;

enum lock_status {
	LOCK_TAKEN = 0,     /* *lock_r holds the account's lock */
	LOCK_BUSY,          /* another process holds it (*err_r names it) */
	LOCK_ERROR,         /* the lock file could not be used (*err_r) */
};

/* Takes the lock of ACCOUNT in the directory of STATE_FILE, waiting up to
 * TIMEOUT seconds (0: not at all) while another process holds it.  On
 * LOCK_BUSY and LOCK_ERROR, *err_r (caller frees) says why. */
enum lock_status lock_account(const char *state_file, const char *account,
			      int timeout, struct lock **lock_r, char **err_r);

/* Releases and frees the lock; *lock becomes NULL.  NULL is fine. */
void lock_release(struct lock **lock);

#endif
