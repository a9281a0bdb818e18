/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mutf7.h"
#include "status.h"

const char *status_result_name(enum util_fail f)
{
	switch (f) {
	case UTIL_FAIL_NONE:
		return "ok";
	case UTIL_FAIL_TEMP:
		return "temporary failure";
	case UTIL_FAIL_AUTH:
		return "login refused";
	case UTIL_FAIL_CONFIG:
		return "configuration error";
	case UTIL_FAIL_LOCAL:
		return "archive error";
	}
	return "archive error";
}

int status_save(struct state *st, const char *account,
		const struct session_result *res, time_t finished, char **err_r)
{
	struct state_poll p = {.finished = finished,
			       .result = status_result_name(res->fail),
			       .error = res->error};
	struct state_folder_poll *f =
	    res->n_folders > 0 ? xcalloc(res->n_folders, sizeof(*f)) : NULL;

	for (size_t i = 0; i < res->n_folders; i++) {
		const struct session_folder_stat *s = &res->folders[i];
		f[i] = (struct state_folder_poll){
		    .folder = s->folder,
		    .display = s->display != NULL ? s->display : s->folder,
		    .server_msgs = s->server_msgs,
		    .server_bytes = s->server_bytes == UINT64_MAX
					? STATE_BYTES_UNKNOWN
					: s->server_bytes,
		    .next_due = s->next_due};
	}
	int r = state_poll_save(st, account, &p, f, res->n_folders, err_r);
	free(f);
	return r;
}

char *status_folder_display(const struct conf_account *a,
			    const struct state_folder_status *f)
{
	char *out = NULL, *err = NULL;

	if (f->display != NULL && f->display[0] != '\0')
		return xstrdup(f->display);
	if (f->folder[0] == '\0')
		return xstrdup("INBOX");
	if (a->protocol == CONF_PROTOCOL_IMAP &&
	    mutf7_decode(f->folder, &out, &err) == 0)
		return out;
	free(err);
	return xstrdup(f->folder);
}

/* The length of the valid UTF-8 sequence at S (1-4), or 0 if there is
 * none: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void status_json_string(struct util_str *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	util_str_add(out, "\"", 1);
	while (*s != '\0') {
		char esc[8];
		const char *e = NULL;
		switch (*s) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		default:
			if (*s < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *s);
				e = esc;
			}
		}
		if (e != NULL) {
			util_str_add(out, e, strlen(e));
			s++;
			continue;
		}
		size_t n = utf8_len(s);
		if (n == 0) {
			util_str_add(out, "\\ufffd", 6);
			n = 1;
		} else {
			util_str_add(out, (const char *)s, n);
		}
		s += n;
	}
	util_str_add(out, "\"", 1);
}

static void str_printf(struct util_str *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void str_printf(struct util_str *out, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		util_oom();
	va_end(ap);
	util_str_add(out, s, strlen(s));
	free(s);
}

static bool selected(const struct conf_account *a, const struct cli *cli)
{
	if (cli->n_accounts == 0)
		return true;
	for (size_t i = 0; i < cli->n_accounts; i++)
		if (strcmp(cli->accounts[i], a->name) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ JSON */

static void json_folder(struct util_str *o, const struct conf_account *a,
			const struct state_folder_status *f)
{
	char *display = status_folder_display(a, f);

	util_str_add(o, "{\"folder\":", 10);
	status_json_string(o, display);
	str_printf(o,
		   ",\"archived_messages\":%" PRIu64
		   ",\"archived_bytes\":%" PRIu64 ",\"imported\":%" PRIu64,
		   f->archived_msgs, f->archived_bytes, f->imported);
	if (f->polled)
		str_printf(o, ",\"server_messages\":%" PRIu64, f->server_msgs);
	else
		str_printf(o, ",\"server_messages\":null");
	if (f->polled && f->server_bytes != STATE_BYTES_UNKNOWN)
		str_printf(o, ",\"server_bytes\":%" PRIu64, f->server_bytes);
	else
		str_printf(o, ",\"server_bytes\":null");
	if (f->polled && f->next_due != 0)
		str_printf(o, ",\"next_expiry\":%lld}", (long long)f->next_due);
	else
		str_printf(o, ",\"next_expiry\":null}");
	free(display);
}

static void json_account(struct util_str *o, const struct conf_account *a,
			 const struct state_account_status *s)
{
	util_str_add(o, "{\"name\":", 8);
	status_json_string(o, a->name);
	if (s->polled) {
		str_printf(o, ",\"last_poll\":%lld,\"result\":",
			   (long long)s->finished);
		status_json_string(o, s->result);
	} else {
		str_printf(o, ",\"last_poll\":null,\"result\":null");
	}
	util_str_add(o, ",\"error\":", 9);
	if (s->error != NULL)
		status_json_string(o, s->error);
	else
		util_str_add(o, "null", 4);
	util_str_add(o, ",\"folders\":[", 12);
	for (size_t i = 0; i < s->n_folders; i++) {
		if (i > 0)
			util_str_add(o, ",", 1);
		json_folder(o, a, &s->folders[i]);
	}
	util_str_add(o, "]}", 2);
}

/* ------------------------------------------------------------ text */

/* Control characters (from a server, in a folder name or an error) would
 * move the terminal's cursor: shown as \xNN. */
static char *printable(const char *s)
{
	struct util_str o = {0};

	util_str_add(&o, "", 0);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			util_str_add(&o, esc, 4);
		} else {
			util_str_add(&o, (const char *)p, 1);
		}
	}
	return o.p;
}

/* Columns on a terminal: one per UTF-8 character, near enough for
 * aligning folder names. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

static char *count_bytes(uint64_t n, uint64_t bytes)
{
	char h[32];

	if (bytes == STATE_BYTES_UNKNOWN)
		return xasprintf("%" PRIu64 " (size unknown)", n);
	util_human_bytes(bytes, h, sizeof(h));
	return xasprintf("%" PRIu64 " (%s)", n, h);
}

enum { STATUS_COLS = 5 };

/* The cells of one folder's line. */
static void text_cells(const struct conf_account *a,
		       const struct state_folder_status *f,
		       char *cell[STATUS_COLS])
{
	char *display = status_folder_display(a, f);
	char when[32];

	cell[0] = printable(display);
	free(display);
	cell[1] = count_bytes(f->archived_msgs, f->archived_bytes);
	cell[2] = xasprintf("%" PRIu64, f->imported);
	if (!f->polled) {
		cell[3] = xstrdup("-");
		cell[4] = xstrdup("-");
		return;
	}
	cell[3] = count_bytes(f->server_msgs, f->server_bytes);
	if (f->next_due == 0) {
		cell[4] = xstrdup("none");
	} else {
		format_time(f->next_due, when, sizeof(when));
		cell[4] = xstrdup(when);
	}
}

static void print_row(char *const cell[STATUS_COLS],
		      const size_t width[STATUS_COLS])
{
	fputs("  ", stdout);
	for (int c = 0; c < STATUS_COLS; c++) {
		size_t pad = width[c] - text_width(cell[c]);
		if (c == STATUS_COLS - 1)
			printf("%s\n", cell[c]);
		else
			printf("%s%*s  ", cell[c], (int)pad, "");
	}
}

static void text_folders(const struct conf_account *a,
			 const struct state_account_status *s)
{
	static const char *const head[STATUS_COLS] = {
	    "folder", "archived", "imported", "on server", "next expiry"};
	char *(*cells)[STATUS_COLS] = xcalloc(s->n_folders, sizeof(*cells));
	size_t width[STATUS_COLS];

	for (int c = 0; c < STATUS_COLS; c++)
		width[c] = text_width(head[c]);
	for (size_t i = 0; i < s->n_folders; i++) {
		text_cells(a, &s->folders[i], cells[i]);
		for (int c = 0; c < STATUS_COLS; c++) {
			size_t w = text_width(cells[i][c]);
			if (w > width[c])
				width[c] = w;
		}
	}
	print_row((char *const *)head, width);
	for (size_t i = 0; i < s->n_folders; i++) {
		print_row(cells[i], width);
		for (int c = 0; c < STATUS_COLS; c++)
			free(cells[i][c]);
	}
	free(cells);
}

static void text_account(const struct conf_account *a,
			 const struct state_account_status *s)
{
	char *name = printable(a->name);

	if (!s->polled) {
		printf("%s: never polled\n", name);
	} else {
		char when[32];
		format_time(s->finished, when, sizeof(when));
		printf("%s: last poll %s, %s\n", name, when, s->result);
	}
	if (s->error != NULL) {
		char *e = printable(s->error);
		printf("  error: %s\n", e);
		free(e);
	}
	if (s->n_folders > 0)
		text_folders(a, s);
	free(name);
}

/* ------------------------------------------------------------ command */

/* Reads each selected account's status and shows it.  ST NULL: there is
 * no state yet, every account is "never polled". */
static int status_show(const struct conf *conf, const struct cli *cli,
		       struct state *st)
{
	struct util_str json = {0};
	char *err = NULL;

	util_str_add(&json, "{\"accounts\":[", 13);
	for (size_t i = 0, n = 0; i < conf->n_accounts; i++) {
		const struct conf_account *a = &conf->accounts[i];
		struct state_account_status s = {0};
		if (!selected(a, cli))
			continue;
		if (st != NULL && state_status(st, a->name, &s, &err) < 0) {
			log_error(NULL, "%s", err);
			free(err);
			free(json.p);
			return util_fail_exit_code(UTIL_FAIL_LOCAL);
		}
		if (cli->json) {
			if (n++ > 0)
				util_str_add(&json, ",", 1);
			json_account(&json, a, &s);
		} else {
			text_account(a, &s);
		}
		state_status_free(&s);
	}
	util_str_add(&json, "]}\n", 3);
	if (cli->json)
		fputs(json.p, stdout);
	free(json.p);
	return 0;
}

int status_command(const struct conf *conf, const struct cli *cli)
{
	struct state *st = NULL;
	char *err = NULL;

	if (cli->n_args > 0 || cli->folder != NULL || cli->yes ||
	    cli->from != NULL) {
		fputs(
		    "usage: mailhaul [-c FILE] status [-a NAME]... [--json]\n",
		    stderr);
		return 64;
	}
	/* Reading the status creates no state where none is. */
	bool none = access(conf->state_file, F_OK) < 0 && errno == ENOENT;
	if (!none && state_open(conf->state_file, &st, &err) < 0) {
		log_error(NULL, "%s", err);
		free(err);
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	int r = status_show(conf, cli, st);
	state_close(&st);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error(NULL, "status: cannot write the output: %s",
			  strerror(errno));
		return util_fail_exit_code(UTIL_FAIL_LOCAL);
	}
	return r;
}
