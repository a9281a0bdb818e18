/* SPDX-License-Identifier: ISC */
/* The configuration file: a libconfuse schema, checks that report every
 * problem as "FILE:LINE: text", and the conversion into plain structs.
 * No cfg_t leaves this file. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>

#include "conf.h"
#include "mutf7.h"
#include "sink_mda.h"
#include "util.h"

/* A config file larger than this is a mistake, not a config. */
#define CONF_MAX_BYTES (1024 * 1024)

static const char section_account[] = "account";
/* Options every account inherits unless it sets them itself. */
static const char section_defaults[] = "defaults";

static const char *const protocol_names[] = {
    [CONF_PROTOCOL_POP3] = "pop3",
    [CONF_PROTOCOL_IMAP] = "imap",
    NULL,
};

static const char *const tls_names[] = {
    [CONF_TLS_IMPLICIT] = "implicit",
    [CONF_TLS_STARTTLS] = "starttls",
    [CONF_TLS_NONE] = "none",
    NULL,
};

static const char *const target_names[] = {
    [CONF_TARGET_MAILDIR] = "maildir",
    [CONF_TARGET_MBOX] = "mbox",
    [CONF_TARGET_MBOXDIR] = "mboxdir",
    [CONF_TARGET_MDA] = "mda",
    NULL,
};

static const char *const layout_names[] = {
    [CONF_LAYOUT_FLAT] = "flat",
    [CONF_LAYOUT_MAILDIRPP] = "maildir++",
    [CONF_LAYOUT_TREE] = "tree",
    NULL,
};

/* Options that mean something for "mda:" targets only. */
static const char *const mda_only_options[] = {
    "mda_shell", "mda_from_line", "mda_timeout",
};

/* Options that mean something for IMAP accounts only. */
static const char *const imap_only_options[] = {
    "folders", "folder_layout", "keep_flags", "expunge_without_uidplus",
    "move_to",
};

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
    NULL,
};

/* The port used when none is given, by protocol and TLS mode. */
static const unsigned default_ports[][3] = {
    [CONF_PROTOCOL_POP3] = {[CONF_TLS_IMPLICIT] = 995,
			    [CONF_TLS_STARTTLS] = 110,
			    [CONF_TLS_NONE] = 110},
    [CONF_PROTOCOL_IMAP] = {[CONF_TLS_IMPLICIT] = 993,
			    [CONF_TLS_STARTTLS] = 143,
			    [CONF_TLS_NONE] = 143},
};

/* Account options that must be given. */
static const char *const required_options[] = {"host", "user", "deliver"};

/*
 * Line numbers.  libconfuse 3.3 miscounts lines: every "#" or "//" comment
 * advances its counter by three instead of one, and every block comment by
 * one more than the newlines inside it (measured).  A file_map replays the
 * lexer's rules over a file to translate its numbers back into real ones,
 * and remembers where each top-level account or defaults block starts
 * (libconfuse only knows the line of its closing brace) and where a
 * defaults block sets each option (to point at it from the accounts that
 * inherit it).  Should the replay ever disagree
 * with libconfuse, only a line number in a message is off.
 */
struct map_opt {
	int block; /* the defaults block's first line */
	int line;
	char *name;
};

struct file_map {
	char *file;  /* as libconfuse names it */
	int *starts; /* starts[r]: libconfuse's count at real line r */
	int n_lines;
	int *blocks;	    /* real lines of top-level "account"/"defaults" */
	const char **kinds; /* kinds[i]: section_account or _defaults */
	size_t n_blocks;
	int unclosed; /* start line of a block missing its "}", or 0 */
	const char *unclosed_kind;
	struct map_opt *opts; /* options set in defaults blocks */
	size_t n_opts;
};

struct scan {
	const char *p, *end;
	int real, lc; /* the real line, libconfuse's count */
	int depth;    /* braces */
	int keyword;  /* line of a pending top-level section name, or 0 */
	const char *kind;    /* which one */
	const char *in_kind; /* the kind of the block at depth 1, or NULL */
	struct file_map *m;
};

/* Characters that end an unquoted word in libconfuse's lexer. */
static const char word_stops[] = " #\"'\t\n\r={}()+,*";

static void scan_newline(struct scan *sc, int lc_step)
{
	sc->real++;
	sc->lc += lc_step;
	sc->m->starts =
	    xrealloc(sc->m->starts, (size_t)(sc->real + 1) * sizeof(int));
	sc->m->starts[sc->real] = sc->lc;
	sc->m->n_lines = sc->real;
}

/* "#..." or "//...": the comment swallows its newline and counts it 3. */
static void scan_line_comment(struct scan *sc)
{
	const char *nl = memchr(sc->p, '\n', (size_t)(sc->end - sc->p));

	sc->p = nl != NULL ? nl + 1 : sc->end;
	if (nl != NULL)
		scan_newline(sc, 3);
}

static void scan_block_comment(struct scan *sc)
{
	for (sc->p += 2; sc->p < sc->end; sc->p++) {
		if (*sc->p == '\n') {
			scan_newline(sc, 1);
		} else if (*sc->p == '*' && sc->p + 1 < sc->end &&
			   sc->p[1] == '/') {
			sc->p += 2;
			sc->lc++;
			return;
		}
	}
}

/* Returns the end of a "${...}" at P (just past "}"), or NULL. */
static const char *scan_env_end(const struct scan *sc)
{
	const char *close;

	if (sc->p + 1 >= sc->end || sc->p[0] != '$' || sc->p[1] != '{')
		return NULL;
	close = memchr(sc->p, '}', (size_t)(sc->end - sc->p));
	return close != NULL ? close + 1 : NULL;
}

/* "${...}" is one token, and the lexer does not count newlines in it. */
static void scan_env(struct scan *sc, const char *end)
{
	for (; sc->p < end; sc->p++)
		if (*sc->p == '\n')
			scan_newline(sc, 0);
}

static void scan_quoted(struct scan *sc, char quote)
{
	const char *env;

	for (sc->p++; sc->p < sc->end;) {
		char c = *sc->p;
		if (c == quote) {
			sc->p++;
			return;
		}
		if (quote == '"' && (env = scan_env_end(sc)) != NULL) {
			scan_env(sc, env);
			continue;
		}
		if (c == '\\' && sc->p + 1 < sc->end)
			c = *++sc->p;
		if (c == '\n')
			scan_newline(sc, 1);
		sc->p++;
	}
}

/* Notes a top-level section keyword of LEN bytes at P. */
static void scan_section_name(struct scan *sc, size_t len)
{
	static const char *const names[] = {section_account, section_defaults};

	/* In 'account defaults {', "defaults" is the title. */
	if (sc->keyword == sc->real)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (len == strlen(names[i]) &&
		    memcmp(sc->p, names[i], len) == 0) {
			sc->keyword = sc->real;
			sc->kind = names[i];
		}
}

/* Notes an option name of LEN bytes at P in a defaults block: a word
 * followed by "=" or "+=". */
static void scan_option_name(struct scan *sc, size_t len)
{
	const char *q = sc->p + len;
	struct file_map *m = sc->m;

	while (q < sc->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q == sc->end || (*q != '=' && *q != '+') || m->n_blocks == 0)
		return;
	m->opts = xrealloc(m->opts, (m->n_opts + 1) * sizeof(*m->opts));
	m->opts[m->n_opts].block = m->blocks[m->n_blocks - 1];
	m->opts[m->n_opts].line = sc->real;
	m->opts[m->n_opts++].name = xstrndup(sc->p, len);
}

static void scan_word(struct scan *sc)
{
	size_t len = 0, slashes = 0;

	while (sc->p + len < sc->end && strchr(word_stops, sc->p[len]) == NULL)
		len++;
	while (slashes < len && sc->p[slashes] == '/')
		slashes++;
	/* "//" alone ties with the word rule; the comment rule wins. */
	if (slashes >= 2 && slashes == len) {
		scan_line_comment(sc);
		return;
	}
	if (sc->depth == 0)
		scan_section_name(sc, len);
	else if (sc->depth == 1 && sc->in_kind == section_defaults)
		scan_option_name(sc, len);
	sc->p += len;
}

static void scan_brace(struct scan *sc, char c)
{
	sc->p++;
	if (c == '{' && sc->depth == 0)
		sc->in_kind = sc->keyword != 0 ? sc->kind : NULL;
	if (c == '{' && sc->depth++ == 0 && sc->keyword != 0) {
		sc->m->blocks = xrealloc(sc->m->blocks,
					 (sc->m->n_blocks + 1) * sizeof(int));
		sc->m->kinds =
		    xrealloc(sc->m->kinds,
			     (sc->m->n_blocks + 1) * sizeof(*sc->m->kinds));
		sc->m->blocks[sc->m->n_blocks] = sc->keyword;
		sc->m->kinds[sc->m->n_blocks++] = sc->kind;
		sc->keyword = 0;
	} else if (c == '}' && sc->depth > 0) {
		sc->depth--;
	}
}

static void scan_token(struct scan *sc)
{
	char c = *sc->p;
	const char *env;

	if (c == '\n') {
		sc->p++;
		scan_newline(sc, 1);
	} else if (c == '#') {
		scan_line_comment(sc);
	} else if (c == '"' || c == '\'') {
		scan_quoted(sc, c);
	} else if (c == '/' && sc->p + 1 < sc->end && sc->p[1] == '*') {
		scan_block_comment(sc);
	} else if ((env = scan_env_end(sc)) != NULL) {
		scan_env(sc, env);
	} else if (c != '\0' && strchr(word_stops, c) == NULL) {
		scan_word(sc);
	} else if (c == '{' || c == '}') {
		scan_brace(sc, c);
	} else {
		sc->p++;
	}
}

/* Maps FILE holding TEXT; with TEXT NULL (unreadable), numbers stay. */
static struct file_map *file_map_new(const char *file, const char *text,
				     size_t len)
{
	struct file_map *m = xcalloc(1, sizeof(*m));
	struct scan sc = {.p = text, .end = text + len, .lc = 0, .m = m};

	m->file = xstrdup(file);
	if (text == NULL)
		return m;
	scan_newline(&sc, 1);
	while (sc.p < sc.end)
		scan_token(&sc);
	if (sc.depth > 0 && m->n_blocks > 0) {
		m->unclosed = m->blocks[m->n_blocks - 1];
		m->unclosed_kind = m->kinds[m->n_blocks - 1];
	}
	return m;
}

static void file_map_free(struct file_map *m)
{
	free(m->file);
	free(m->starts);
	free(m->blocks);
	free(m->kinds);
	for (size_t i = 0; i < m->n_opts; i++)
		free(m->opts[i].name);
	free(m->opts);
	free(m);
}

/* Returns the real line for libconfuse's line LC. */
static int file_map_line(const struct file_map *m, int lc)
{
	int lo = 1, hi = m->n_lines;

	if (lc < 1 || hi < 1)
		return lc;
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (m->starts[mid] <= lc)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Returns the start of the section block that holds real line LINE. */
static int file_map_block(const struct file_map *m, int line)
{
	int best = 0;

	for (size_t i = 0; i < m->n_blocks; i++)
		if (m->blocks[i] <= line)
			best = m->blocks[i];
	return best != 0 ? best : line;
}

/* Returns the line where the block starting at BLOCK sets option NAME
 * first, or 0. */
static int file_map_option(const struct file_map *m, int block,
			   const char *name)
{
	for (size_t i = 0; i < m->n_opts; i++)
		if (m->opts[i].block == block &&
		    strcmp(m->opts[i].name, name) == 0)
			return m->opts[i].line;
	return 0;
}

/* Reads all of FD (at most CONF_MAX_BYTES) into a NUL-terminated buffer.
 * Returns 0, or -1 with errno (EFBIG: too large). */
static int read_all(int fd, char **text_r, size_t *len_r)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		if (n < 0 ||
		    (len + (size_t)n == cap && cap >= CONF_MAX_BYTES)) {
			int e = n < 0 ? errno : EFBIG;
			explicit_bzero(buf, len + (n > 0 ? (size_t)n : 0));
			free(buf);
			errno = e;
			return -1;
		}
		len += (size_t)n;
		if (len == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
	}
	buf[len] = '\0';
	*text_r = buf;
	*len_r = len;
	return 0;
}

/* ---- the parse in progress ---- */

struct conf_parse {
	cfg_t *root;
	const char *name; /* the main file, as messages name it */
	struct file_map **maps;
	size_t n_maps;
	char *errors; /* '\n'-joined messages, or NULL */
	cfg_t *sec;   /* the section seen_sec is about */
	uint32_t seen_root, seen_sec;
	char **secret_files; /* files that hold a password option */
	size_t n_secret_files;
	cfg_t *defaults; /* the first defaults block, or NULL */
};

/* libconfuse's callbacks carry no user pointer, and its parser is not
 * reentrant anyway: they reach the parse in progress through this. */
static struct conf_parse *parse_ctx;

static struct file_map *ctx_add_map(struct conf_parse *ctx, struct file_map *m)
{
	ctx->maps = xrealloc(ctx->maps, (ctx->n_maps + 1) * sizeof(*ctx->maps));
	ctx->maps[ctx->n_maps++] = m;
	return m;
}

/* Returns the map of FILE (an included file is read again for it). */
static struct file_map *ctx_map(struct conf_parse *ctx, const char *file)
{
	char *text = NULL;
	size_t len = 0;
	int fd;

	for (size_t i = 0; i < ctx->n_maps; i++)
		if (strcmp(ctx->maps[i]->file, file) == 0)
			return ctx->maps[i];
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && read_all(fd, &text, &len) < 0)
		text = NULL;
	if (fd >= 0)
		close(fd);
	ctx_add_map(ctx, file_map_new(file, text, len));
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	return ctx->maps[ctx->n_maps - 1];
}

static void ctx_add_error(struct conf_parse *ctx, char *msg)
{
	char *joined;

	if (ctx->errors == NULL) {
		ctx->errors = msg;
		return;
	}
	joined = xasprintf("%s\n%s", ctx->errors, msg);
	free(ctx->errors);
	free(msg);
	ctx->errors = joined;
}

static bool ctx_is_account(const struct conf_parse *ctx, const cfg_t *cfg)
{
	return cfg != NULL && cfg != ctx->root && cfg->title != NULL;
}

static bool ctx_is_defaults(const struct conf_parse *ctx, const cfg_t *cfg)
{
	return cfg != NULL && cfg != ctx->root && cfg->name != NULL &&
	       strcmp(cfg->name, section_defaults) == 0;
}

static const char *ctx_file(const struct conf_parse *ctx, const cfg_t *cfg)
{
	return cfg != NULL && cfg->filename != NULL ? cfg->filename : ctx->name;
}

/* Adds "FILE:LINE: [account "NAME": |defaults: ]text", naming the block
 * SEC (none when it is NULL or the root); LINE is real, or 0 for none. */
__attribute__((format(printf, 5, 0))) static void
ctx_vreport(struct conf_parse *ctx, const char *file, int line,
	    const cfg_t *sec, const char *fmt, va_list ap)
{
	char *text, *where, *msg;

	if (vasprintf(&text, fmt, ap) < 0)
		text = xstrdup(fmt);
	where = line > 0 ? xasprintf("%s:%d", file, line) : xstrdup(file);
	if (ctx_is_account(ctx, sec))
		msg = xasprintf("%s: %s \"%s\": %s", where, section_account,
				sec->title, text);
	else if (ctx_is_defaults(ctx, sec))
		msg = xasprintf("%s: %s: %s", where, section_defaults, text);
	else
		msg = xasprintf("%s: %s", where, text);
	ctx_add_error(ctx, msg);
	free(where);
	free(text);
}

/* Adds "FILE:LINE: [account "NAME": |defaults: ]text" for CFG. */
__attribute__((format(printf, 4, 0))) static void
ctx_verror_at(struct conf_parse *ctx, cfg_t *cfg, int line, const char *fmt,
	      va_list ap)
{
	ctx_vreport(ctx, ctx_file(ctx, cfg), line, cfg, fmt, ap);
}

/* Reports a problem at the line libconfuse is at in CFG. */
__attribute__((format(printf, 2, 3))) static void
parse_error(cfg_t *cfg, const char *fmt, ...)
{
	struct conf_parse *ctx = parse_ctx;
	int line = cfg->line;
	va_list ap;

	if (ctx == NULL)
		return;
	if (cfg->filename != NULL)
		line = file_map_line(ctx_map(ctx, cfg->filename), line);
	va_start(ap, fmt);
	ctx_verror_at(ctx, cfg, line, fmt, ap);
	va_end(ap);
}

/* ctx_vreport with arguments. */
__attribute__((format(printf, 5, 6))) static void
ctx_report(struct conf_parse *ctx, const char *file, int line, const cfg_t *sec,
	   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_vreport(ctx, file, line, sec, fmt, ap);
	va_end(ap);
}

/* Returns the real first line of the section block SEC. */
static int sec_block_line(struct conf_parse *ctx, cfg_t *sec)
{
	struct file_map *m = ctx_map(ctx, ctx_file(ctx, sec));

	return file_map_block(m, file_map_line(m, sec->line));
}

/* Reports a problem with a whole section block, at its first line. */
__attribute__((format(printf, 3, 0))) static void
block_verror(struct conf_parse *ctx, cfg_t *sec, const char *fmt, va_list ap)
{
	ctx_verror_at(ctx, sec, sec_block_line(ctx, sec), fmt, ap);
}

__attribute__((format(printf, 3, 4))) static void
block_error(struct conf_parse *ctx, cfg_t *sec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	block_verror(ctx, sec, fmt, ap);
	va_end(ap);
}

/* libconfuse's own wording, where ours says more. */
static const struct {
	const char *theirs, *ours;
} message_rewrites[] = {
    {"no such option '%s'", "unknown option \"%s\""},
    {"found duplicate title '%s'", "account \"%s\" is defined twice"},
};

/* libconfuse's error function: syntax errors, unknown options... */
__attribute__((format(printf, 2, 0))) static void
parse_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct conf_parse *ctx = parse_ctx;
	int line = cfg != NULL ? cfg->line : 0;

	if (ctx == NULL)
		return;
	for (size_t i = 0;
	     i < sizeof(message_rewrites) / sizeof(*message_rewrites); i++)
		if (strcmp(fmt, message_rewrites[i].theirs) == 0)
			fmt = message_rewrites[i].ours;
	if (cfg != NULL && cfg->filename != NULL)
		line = file_map_line(ctx_map(ctx, cfg->filename), line);
	ctx_verror_at(ctx, cfg, line, fmt, ap);
}

/* ---- value checks, run by libconfuse as each value is read ---- */

static char *names_join(const char *const *names)
{
	char *s = xstrdup(names[0]);

	for (size_t i = 1; names[i] != NULL; i++) {
		char *t = xasprintf("%s%s%s", s, names[i + 1] ? ", " : " or ",
				    names[i]);
		free(s);
		s = t;
	}
	return s;
}

/* A keyword from NAMES into its index.  A bad one is reported and the
 * parse goes on, so that one run shows every problem. */
static int parse_enum(cfg_t *cfg, cfg_opt_t *opt, const char *value,
		      const char *const *names, void *result)
{
	for (long i = 0; names[i] != NULL; i++)
		if (strcasecmp(value, names[i]) == 0) {
			*(long *)result = i;
			return 0;
		}
	char *expected = names_join(names);
	parse_error(cfg, "invalid %s \"%s\" (expected %s)", opt->name, value,
		    expected);
	free(expected);
	*(long *)result = 0;
	return 0;
}

static int parse_protocol(cfg_t *cfg, cfg_opt_t *opt, const char *value,
			  void *result)
{
	return parse_enum(cfg, opt, value, protocol_names, result);
}

static int parse_tls(cfg_t *cfg, cfg_opt_t *opt, const char *value,
		     void *result)
{
	return parse_enum(cfg, opt, value, tls_names, result);
}

static int parse_layout(cfg_t *cfg, cfg_opt_t *opt, const char *value,
			void *result)
{
	return parse_enum(cfg, opt, value, layout_names, result);
}

static int parse_log_level(cfg_t *cfg, cfg_opt_t *opt, const char *value,
			   void *result)
{
	return parse_enum(cfg, opt, value, log_level_names, result);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses "sha256:AB:CD:..." into PIN: the prefix is optional, colons
 * between bytes are optional, case does not matter.  0, or -1 and
 * *err_r. */
static int parse_fingerprint(const char *s, unsigned char pin[32], char **err_r)
{
	const char *p = s;
	size_t n = 0;
	bool bad = false;

	if (strncasecmp(p, "sha256:", 7) == 0)
		p += 7;
	while (*p != '\0' && !bad) {
		int hi, lo;
		if (n > 0 && *p == ':')
			p++;
		hi = hex_value(p[0]);
		lo = hi < 0 ? -1 : hex_value(p[1]);
		bad = hi < 0 || lo < 0 || n == 32;
		if (!bad)
			pin[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (!bad && n == 32)
		return 0;
	if (bad)
		*err_r = xasprintf("\"%s\" is not a SHA-256 fingerprint "
				   "(\"sha256:\" and 32 hex bytes, "
				   "colons optional)",
				   s);
	else
		*err_r = xasprintf("\"%s\" has %zu bytes, a SHA-256 "
				   "fingerprint has 32",
				   s, n);
	return -1;
}

/* Splits "maildir:PATH", "mbox:PATH", "mboxdir:DIR" or "mda:COMMAND".
 * 0, or -1 and *err_r. */
static int parse_deliver(const char *s, enum conf_target *target_r,
			 const char **path_r, char **err_r)
{
	const char *colon = strchr(s, ':');

	for (int i = 0; colon != NULL && target_names[i] != NULL; i++)
		if (strlen(target_names[i]) == (size_t)(colon - s) &&
		    strncasecmp(s, target_names[i], (size_t)(colon - s)) == 0) {
			if (colon[1] == '\0')
				break;
			*target_r = (enum conf_target)i;
			*path_r = colon + 1;
			return 0;
		}
	if (colon != NULL && colon[1] == '\0')
		*err_r = xasprintf("\"%s\" has no %s", s,
				   strncasecmp(s, "mda:", 4) == 0 ? "command"
								  : "path");
	else
		*err_r = xasprintf("\"%s\" is not \"maildir:PATH\", "
				   "\"mbox:PATH\", \"mboxdir:PATH\" or "
				   "\"mda:COMMAND\"",
				   s);
	return -1;
}

static void check_range(cfg_t *cfg, cfg_opt_t *opt, long min, long max)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < min || v > max)
		parse_error(cfg, "%s %ld is out of range (%ld to %ld)",
			    opt->name, v, min, max);
}

static void check_port(cfg_t *cfg, cfg_opt_t *opt)
{
	check_range(cfg, opt, 1, 65535);
}

static void check_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	check_range(cfg, opt, 1, 3600);
}

static void check_lock_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	check_range(cfg, opt, 0, 86400);
}

static void check_max_parallel(cfg_t *cfg, cfg_opt_t *opt)
{
	check_range(cfg, opt, 1, CONF_MAX_PARALLEL_MAX);
}

static void check_mda_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
	check_range(cfg, opt, 1, 3600);
}

static void check_ca_file(cfg_t *cfg, cfg_opt_t *opt)
{
	char *path = util_expand_tilde(cfg_opt_getnstr(opt, 0));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		parse_error(cfg, "%s \"%s\": %s", opt->name, path,
			    strerror(errno));
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		parse_error(cfg, "%s \"%s\": not a regular file", opt->name,
			    path);
	if (fd >= 0)
		close(fd);
	free(path);
}

static void check_fingerprint(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned char pin[32];
	char *err = NULL;

	if (parse_fingerprint(cfg_opt_getnstr(opt, 0), pin, &err) < 0)
		parse_error(cfg, "%s: %s", opt->name, err);
	free(err);
}

static void check_password(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse *ctx = parse_ctx;
	const char *file = cfg->filename != NULL ? cfg->filename : ctx->name;

	(void)opt;
	for (size_t i = 0; i < ctx->n_secret_files; i++)
		if (strcmp(ctx->secret_files[i], file) == 0)
			return;
	ctx->secret_files =
	    xrealloc(ctx->secret_files,
		     (ctx->n_secret_files + 1) * sizeof(*ctx->secret_files));
	ctx->secret_files[ctx->n_secret_files++] = xstrdup(file);
}

static void check_password_command(cfg_t *cfg, cfg_opt_t *opt)
{
	char **argv = NULL, *err = NULL;

	if (util_argv_split(cfg_opt_getnstr(opt, 0), &argv, &err) < 0)
		parse_error(cfg, "%s: %s", opt->name, err);
	util_argv_free(&argv);
	free(err);
}

static void check_deliver(cfg_t *cfg, cfg_opt_t *opt)
{
	enum conf_target target;
	const char *path;
	char *err = NULL;

	if (parse_deliver(cfg_opt_getnstr(opt, 0), &target, &path, &err) < 0)
		parse_error(cfg, "%s: %s", opt->name, err);
	free(err);
}

/* A folder name or pattern: UTF-8 as written, no control characters. */
static void check_folder_name(cfg_t *cfg, const char *opt, const char *v)
{
	char *enc = NULL, *err = NULL;

	if (*v == '\0') {
		parse_error(cfg, "%s: an empty folder name", opt);
		return;
	}
	for (const char *p = v; *p != '\0'; p++)
		if (iscntrl((unsigned char)*p)) {
			parse_error(cfg, "%s: folder name \"%s\" contains a "
					 "control character",
				    opt, v);
			return;
		}
	if (mutf7_encode(v, &enc, &err) < 0)
		parse_error(cfg, "%s: folder name \"%s\": %s", opt, v, err);
	free(enc);
	free(err);
}

/* libconfuse calls this once per value added: check the newest. */
static void check_folders(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	if (n > 0)
		check_folder_name(cfg, opt->name, cfg_opt_getnstr(opt, n - 1));
}

static void check_move_to(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *v = cfg_opt_getnstr(opt, 0);

	if (strpbrk(v, "*%") != NULL)
		parse_error(cfg, "%s: \"%s\" is a pattern, not a folder",
			    opt->name, v);
	else
		check_folder_name(cfg, opt->name, v);
}

/* delete_after above this is a typo, and would overflow time arithmetic
 * further on. */
#define CONF_MAX_DURATION ((uint64_t)100 * 366 * 86400)

/* A duration, as util_parse_duration reads it.  0, or -1 and *err_r. */
static int parse_duration(const char *name, const char *v, uint64_t *secs_r,
			  char **err_r)
{
	const char *why = NULL;

	if (util_parse_duration(v, secs_r, &why) < 0) {
		*err_r = xasprintf("%s: \"%s\" is not a duration "
				   "(e.g. 30d, 12h, 1w): %s",
				   name, v, why);
		return -1;
	}
	if (*secs_r > CONF_MAX_DURATION) {
		*err_r =
		    xasprintf("%s: \"%s\" is longer than 100 years", name, v);
		return -1;
	}
	return 0;
}

/* A size, as util_parse_size reads it.  0, or -1 and *err_r. */
static int parse_size(const char *name, const char *v, uint64_t *bytes_r,
		      char **err_r)
{
	const char *why = NULL;

	if (util_parse_size(v, bytes_r, &why) < 0) {
		*err_r = xasprintf("%s: \"%s\" is not a size "
				   "(e.g. 500M, 25MB, 2G): %s",
				   name, v, why);
		return -1;
	}
	return 0;
}

static void check_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	uint64_t secs;
	char *err = NULL;

	if (parse_duration(opt->name, cfg_opt_getnstr(opt, 0), &secs, &err) < 0)
		parse_error(cfg, "%s", err);
	free(err);
}

static void check_size(cfg_t *cfg, cfg_opt_t *opt)
{
	uint64_t bytes;
	char *err = NULL;

	if (parse_size(opt->name, cfg_opt_getnstr(opt, 0), &bytes, &err) < 0)
		parse_error(cfg, "%s", err);
	free(err);
}

static void check_fetch_limit(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 0)
		parse_error(cfg,
			    "%s: %ld is negative (a number of messages per "
			    "poll; 0: no limit)",
			    opt->name, v);
}

/* Checks beyond the type, by option name. */
static const struct {
	const char *name;
	void (*check)(cfg_t *cfg, cfg_opt_t *opt);
} option_checks[] = {
    {"port", check_port},
    {"timeout", check_timeout},
    {"lock_timeout", check_lock_timeout},
    {"max_parallel", check_max_parallel},
    {"mda_timeout", check_mda_timeout},
    {"tls_ca_file", check_ca_file},
    {"tls_fingerprint", check_fingerprint},
    {"password", check_password},
    {"password_command", check_password_command},
    {"deliver", check_deliver},
    {"folders", check_folders},
    {"move_to", check_move_to},
    {"delete_after", check_duration},
    {"max_server_size", check_size},
    {"skip_larger_than", check_size},
    {"fetch_size_limit", check_size},
    {"fetch_limit", check_fetch_limit},
};

/* Refuses an option given twice in one block (or twice at top level):
 * libconfuse would silently keep the last one. */
static bool check_once(struct conf_parse *ctx, cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned idx = (unsigned)(opt - cfg->opts);
	uint32_t *seen = &ctx->seen_root;

	if (cfg != ctx->root) {
		if (cfg != ctx->sec) {
			ctx->sec = cfg;
			ctx->seen_sec = 0;
		}
		seen = &ctx->seen_sec;
	}
	if (idx < 32 && (*seen & (UINT32_C(1) << idx)) != 0) {
		parse_error(cfg, "option \"%s\" is set twice", opt->name);
		return false;
	}
	if (idx < 32)
		*seen |= UINT32_C(1) << idx;
	return true;
}

/* Every option's validation callback.  Problems are reported and the
 * parse goes on (returning non-zero would stop at the first one). */
static int validate_option(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_parse *ctx = parse_ctx;

	if ((opt->flags & CFGF_LIST) == 0 && !check_once(ctx, cfg, opt))
		return 0;
	if (opt->type == CFGT_STR && (opt->flags & CFGF_LIST) == 0) {
		const char *v = cfg_opt_getnstr(opt, 0);
		if (v == NULL || *v == '\0') {
			parse_error(cfg,
				    "option \"%s\" is empty (an unset "
				    "${VARIABLE}?)",
				    opt->name);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(option_checks) / sizeof(*option_checks);
	     i++)
		if (strcmp(opt->name, option_checks[i].name) == 0)
			option_checks[i].check(cfg, opt);
	return 0;
}

/* include("FILE"): relative to the directory of the file that says it
 * (libconfuse's search path would refuse absolute names). */
static int conf_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
	const char *cur = cfg->filename != NULL ? cfg->filename : "";
	const char *slash = strrchr(cur, '/');
	char *path;
	int r;

	if (argc != 1 || argv[0][0] == '\0') {
		parse_error(cfg, "include() takes one file name");
		return 1;
	}
	if (argv[0][0] == '/' || argv[0][0] == '~' || slash == NULL)
		path = util_expand_tilde(argv[0]);
	else
		path = xasprintf("%.*s/%s", (int)(slash - cur), cur, argv[0]);
	r = cfg_include(cfg, opt, 1, (const char **)&path);
	free(path);
	return r;
}

/* ---- the schema ---- */

static void set_validators(cfg_opt_t *opts)
{
	for (size_t i = 0; opts[i].name != NULL; i++)
		if (opts[i].type != CFGT_SEC && opts[i].type != CFGT_FUNC)
			opts[i].validcb = validate_option;
}

static cfg_t *schema_new(void)
{
	cfg_opt_t account_opts[] = {
	    CFG_INT_CB("protocol", CONF_PROTOCOL_POP3, CFGF_NONE,
		       parse_protocol),
	    CFG_STR("host", NULL, CFGF_NODEFAULT),
	    CFG_INT("port", 0, CFGF_NODEFAULT),
	    CFG_INT_CB("tls", CONF_TLS_IMPLICIT, CFGF_NONE, parse_tls),
	    CFG_STR("tls_ca_file", NULL, CFGF_NODEFAULT),
	    CFG_STR("tls_fingerprint", NULL, CFGF_NODEFAULT),
	    CFG_STR("user", NULL, CFGF_NODEFAULT),
	    CFG_STR("password", NULL, CFGF_NODEFAULT),
	    CFG_STR("password_command", NULL, CFGF_NODEFAULT),
	    CFG_STR("deliver", NULL, CFGF_NODEFAULT),
	    CFG_BOOL("keep", cfg_true, CFGF_NONE),
	    CFG_INT("timeout", 60, CFGF_NONE),
	    CFG_STR_LIST("folders", "{INBOX}", CFGF_NONE),
	    CFG_INT_CB("folder_layout", CONF_LAYOUT_FLAT, CFGF_NONE,
		       parse_layout),
	    CFG_BOOL("keep_flags", cfg_false, CFGF_NONE),
	    CFG_BOOL("expunge_without_uidplus", cfg_false, CFGF_NONE),
	    CFG_STR("move_to", NULL, CFGF_NODEFAULT),
	    CFG_BOOL("mda_shell", cfg_false, CFGF_NONE),
	    CFG_BOOL("mda_from_line", cfg_false, CFGF_NONE),
	    CFG_INT("mda_timeout", 60, CFGF_NONE),
	    /* Sizes and durations are strings: "500M", "30d". */
	    CFG_STR("delete_after", NULL, CFGF_NODEFAULT),
	    CFG_STR("max_server_size", NULL, CFGF_NODEFAULT),
	    CFG_STR("skip_larger_than", NULL, CFGF_NODEFAULT),
	    CFG_INT("fetch_limit", 0, CFGF_NONE),
	    CFG_STR("fetch_size_limit", NULL, CFGF_NODEFAULT),
	    CFG_BOOL("fetch_all", cfg_false, CFGF_NONE),
	    CFG_END(),
	};
	cfg_opt_t opts[] = {
	    CFG_STR("state_file", NULL, CFGF_NODEFAULT),
	    CFG_INT_CB("log_level", LOG_LEVEL_INFO, CFGF_NONE, parse_log_level),
	    CFG_INT("lock_timeout", 0, CFGF_NONE),
	    CFG_INT("max_parallel", CONF_MAX_PARALLEL_DEFAULT, CFGF_NONE),
	    CFG_SEC(section_account, account_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	    /* MULTI only so that a second block can be found, and refused
	     * with its line. */
	    CFG_SEC(section_defaults, account_opts, CFGF_MULTI),
	    CFG_FUNC("include", conf_include),
	    CFG_END(),
	};

	set_validators(account_opts);
	set_validators(opts);
	/* cfg_init copies the tables. */
	return cfg_init(opts, CFGF_NONE);
}

/* ---- an account's options: its own, else those of defaults ---- */

/* One account block, seen through the defaults block. */
struct merge {
	struct conf_parse *ctx;
	cfg_t *sec;	 /* the account block */
	cfg_t *defaults; /* the defaults block, or NULL */
	enum conf_protocol protocol;
	bool has_target; /* deliver was understood */
	enum conf_target target;
};

/* Was option NAME written in the block (not just defaulted)? */
static bool sec_option_set(cfg_t *sec, const char *name)
{
	cfg_opt_t *opt = cfg_getopt(sec, name);

	return opt != NULL && (opt->flags & CFGF_MODIFIED) != 0;
}

static bool name_in(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* An option of defaults that means nothing for this account (an IMAP
 * option for a POP3 account, an mda_ option for a Maildir) is left out
 * rather than refused: one defaults block serves accounts of every
 * kind. */
static bool merge_applies(const struct merge *m, const char *name)
{
	if (m->protocol != CONF_PROTOCOL_IMAP &&
	    name_in(imap_only_options,
		    sizeof(imap_only_options) / sizeof(*imap_only_options),
		    name))
		return false;
	if (m->has_target && m->target != CONF_TARGET_MDA &&
	    name_in(mda_only_options,
		    sizeof(mda_only_options) / sizeof(*mda_only_options), name))
		return false;
	return !(m->has_target && m->target != CONF_TARGET_MAILDIR &&
		 strcmp(name, "folder_layout") == 0);
}

/* password and password_command are one choice: an account that makes
 * it inherits neither. */
static const char *merge_partner(const char *name)
{
	if (strcmp(name, "password") == 0)
		return "password_command";
	if (strcmp(name, "password_command") == 0)
		return "password";
	return NULL;
}

/* Returns the block option NAME is read from: defaults when they set it
 * and the account does not (nor its partner), else the account's (which
 * may hold the built-in default). */
static cfg_t *merge_from(const struct merge *m, const char *name)
{
	const char *partner = merge_partner(name);

	if (m->defaults == NULL || sec_option_set(m->sec, name) ||
	    !sec_option_set(m->defaults, name) ||
	    (partner != NULL && sec_option_set(m->sec, partner)) ||
	    !merge_applies(m, name))
		return m->sec;
	return m->defaults;
}

static bool merge_inherited(const struct merge *m, const char *name)
{
	return merge_from(m, name) != m->sec;
}

static long merge_int(const struct merge *m, const char *name)
{
	return cfg_getint(merge_from(m, name), name);
}

static bool merge_bool(const struct merge *m, const char *name)
{
	return cfg_getbool(merge_from(m, name), name) != cfg_false;
}

static unsigned merge_size(const struct merge *m, const char *name)
{
	return cfg_size(merge_from(m, name), name);
}

/* Returns option NAME (borrowed), or NULL when neither block sets it. */
static const char *merge_getstr(const struct merge *m, const char *name)
{
	cfg_t *from = merge_from(m, name);

	return cfg_size(from, name) > 0 ? cfg_getstr(from, name) : NULL;
}

/* Returns a copy of option NAME, "~" expanded if TILDE, or NULL. */
static char *merge_str(const struct merge *m, const char *name, bool tilde)
{
	const char *v = merge_getstr(m, name);

	if (v == NULL)
		return NULL;
	return tilde ? util_expand_tilde(v) : xstrdup(v);
}

/* Returns the real line where the defaults block sets NAME, or the
 * block's first line when that is not known. */
static int merge_defaults_line(const struct merge *m, const char *name)
{
	struct conf_parse *ctx = m->ctx;
	int block = sec_block_line(ctx, m->defaults);
	int line = file_map_option(ctx_map(ctx, ctx_file(ctx, m->defaults)),
				   block, name);

	return line != 0 ? line : block;
}

/* Reports a problem of the account that option NAME causes: at the line
 * of the defaults block that set it when inherited, else at the first
 * line of the account block. */
__attribute__((format(printf, 3, 4))) static void
merge_error(const struct merge *m, const char *name, const char *fmt, ...)
{
	struct conf_parse *ctx = m->ctx;
	va_list ap;

	va_start(ap, fmt);
	if (merge_inherited(m, name))
		ctx_vreport(ctx, ctx_file(ctx, m->defaults),
			    merge_defaults_line(m, name), m->sec, fmt, ap);
	else
		block_verror(ctx, m->sec, fmt, ap);
	va_end(ap);
}

/* ---- from cfg_t to struct conf ---- */

/* Returns a copy of option NAME, "~" expanded if TILDE, or NULL. */
static char *get_str(cfg_t *sec, const char *name, bool tilde)
{
	const char *v = cfg_size(sec, name) > 0 ? cfg_getstr(sec, name) : NULL;

	if (v == NULL)
		return NULL;
	return tilde ? util_expand_tilde(v) : xstrdup(v);
}

/* The account name becomes part of file names and keys later. */
static void check_title(struct conf_parse *ctx, cfg_t *sec)
{
	const char *t = sec->title;

	if (*t == '\0') {
		block_error(ctx, sec, "the account name is empty");
		return;
	}
	if (strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		block_error(ctx, sec, "\"%s\" cannot be an account name", t);
	for (const char *p = t; *p != '\0'; p++)
		if (*p == '/' || iscntrl((unsigned char)*p) ||
		    isspace((unsigned char)*p)) {
			block_error(ctx, sec,
				    "the account name must not "
				    "contain \"/\", spaces or "
				    "control characters");
			return;
		}
}

static void check_required(const struct merge *m)
{
	unsigned pw = merge_size(m, "password");
	unsigned cmd = merge_size(m, "password_command");

	for (size_t i = 0;
	     i < sizeof(required_options) / sizeof(*required_options); i++)
		if (merge_size(m, required_options[i]) == 0)
			block_error(m->ctx, m->sec,
				    "missing required option \"%s\"",
				    required_options[i]);
	if (pw == 0 && cmd == 0)
		block_error(m->ctx, m->sec,
			    "missing required option \"password\" "
			    "or \"password_command\"");
	/* Both from defaults: check_defaults said so, once. */
	if (pw > 0 && cmd > 0 && !merge_inherited(m, "password"))
		block_error(m->ctx, m->sec,
			    "\"password\" and \"password_command\" "
			    "exclude each other; keep one");
}

/* deliver, and the target it names.  A bad value was reported while
 * parsing; here it is only skipped. */
static void account_fill_target(struct merge *m, struct conf_account *a)
{
	const char *path = NULL;
	char *err = NULL;

	a->deliver = merge_str(m, "deliver", false);
	if (a->deliver != NULL &&
	    parse_deliver(a->deliver, &a->target, &path, &err) == 0) {
		/* An MDA command's "~" is the MDA's business. */
		a->target_path = a->target == CONF_TARGET_MDA
				     ? xstrdup(path)
				     : util_expand_tilde(path);
		m->has_target = true;
		m->target = a->target;
	}
	free(err);
}

static void account_fill_server(const struct merge *m, struct conf_account *a)
{
	const char *pin = merge_getstr(m, "tls_fingerprint");
	char *err = NULL;

	a->tls = (enum conf_tls)merge_int(m, "tls");
	a->host = merge_str(m, "host", false);
	a->port = merge_size(m, "port") > 0
		      ? (unsigned)merge_int(m, "port")
		      : default_ports[a->protocol][a->tls];
	a->tls_ca_file = merge_str(m, "tls_ca_file", true);
	if (pin != NULL)
		a->has_pin = parse_fingerprint(pin, a->pin, &err) == 0;
	free(err);
	a->user = merge_str(m, "user", false);
	a->password = merge_str(m, "password", false);
	a->password_command = merge_str(m, "password_command", false);
	a->timeout = (int)merge_int(m, "timeout");
}

static void account_fill_imap(const struct merge *m, struct conf_account *a)
{
	cfg_t *from = merge_from(m, "folders");

	a->layout = (enum conf_layout)merge_int(m, "folder_layout");
	a->n_folders = cfg_size(from, "folders");
	a->folders = xcalloc(a->n_folders + 1, sizeof(*a->folders));
	for (size_t i = 0; i < a->n_folders; i++)
		a->folders[i] =
		    xstrdup(cfg_getnstr(from, "folders", (unsigned)i));
	a->keep_flags = merge_bool(m, "keep_flags");
	a->expunge_without_uidplus = merge_bool(m, "expunge_without_uidplus");
	a->move_to = merge_str(m, "move_to", false);
}

/* Returns the size option NAME in bytes; 0 when unset, or when its bad
 * value was reported while parsing. */
static unsigned long long merge_bytes(const struct merge *m, const char *name)
{
	const char *v = merge_getstr(m, name);
	uint64_t n = 0;
	char *err = NULL;

	if (v != NULL && parse_size(name, v, &n, &err) < 0)
		n = 0;
	free(err);
	return n;
}

static void account_fill_retention(const struct merge *m,
				   struct conf_account *a)
{
	const char *v = merge_getstr(m, "delete_after");
	uint64_t secs = 0;
	long limit = merge_int(m, "fetch_limit");
	char *err = NULL;

	if (v != NULL && parse_duration("delete_after", v, &secs, &err) < 0)
		secs = 0;
	free(err);
	a->delete_after = (long long)secs;
	a->max_server_size = merge_bytes(m, "max_server_size");
	a->skip_larger_than = merge_bytes(m, "skip_larger_than");
	a->fetch_size_limit = merge_bytes(m, "fetch_size_limit");
	a->fetch_limit = limit > 0 ? (unsigned long long)limit : 0;
	a->fetch_all = merge_bool(m, "fetch_all");
}

/* Protocol and target first: they decide which options of defaults
 * apply. */
static void account_fill(struct merge *m, struct conf_account *a)
{
	a->name = xstrdup(m->sec->title);
	a->protocol = (enum conf_protocol)merge_int(m, "protocol");
	m->protocol = a->protocol;
	account_fill_target(m, a);
	account_fill_server(m, a);
	a->keep = merge_bool(m, "keep");
	a->mda_shell = merge_bool(m, "mda_shell");
	a->mda_from_line = merge_bool(m, "mda_from_line");
	a->mda_timeout = (int)merge_int(m, "mda_timeout");
	account_fill_imap(m, a);
	account_fill_retention(m, a);
}

/* An "mda:" command is split (unless mda_shell) and its escapes checked
 * now, not at the first message. */
static void check_mda_command(const struct merge *m,
			      const struct conf_account *a)
{
	char *err = NULL;

	if (a->target != CONF_TARGET_MDA || a->target_path == NULL)
		return;
	if (sink_mda_check(strchr(a->deliver, ':') + 1, a->mda_shell, &err) <
	    0)
		merge_error(m, "deliver", "deliver: %s", err);
	free(err);
}

/* Options that only make sense together.  Only what the account block
 * says itself is refused; merge_applies drops the rest of defaults. */
static void check_combinations(const struct merge *m,
			       const struct conf_account *a)
{
	struct conf_parse *ctx = m->ctx;
	cfg_t *sec = m->sec;

	if (a->protocol != CONF_PROTOCOL_IMAP)
		for (size_t i = 0; i < sizeof(imap_only_options) /
					   sizeof(*imap_only_options);
		     i++)
			if (sec_option_set(sec, imap_only_options[i]))
				block_error(ctx, sec,
					    "option \"%s\" applies to IMAP "
					    "accounts only",
					    imap_only_options[i]);
	if (a->protocol == CONF_PROTOCOL_IMAP && a->n_folders == 0)
		merge_error(m, "folders", "folders: the list is empty");
	if (a->target_path != NULL && a->target != CONF_TARGET_MDA)
		for (size_t i = 0; i < sizeof(mda_only_options) /
					   sizeof(*mda_only_options);
		     i++)
			if (sec_option_set(sec, mda_only_options[i]))
				block_error(ctx, sec,
					    "option \"%s\" applies to "
					    "\"mda:\" targets only",
					    mda_only_options[i]);
	check_mda_command(m, a);
	if (sec_option_set(sec, "folder_layout") &&
	    a->target != CONF_TARGET_MAILDIR && a->target_path != NULL)
		block_error(ctx, sec,
			    "folder_layout applies to maildir targets only; "
			    "for one mbox file per folder use \"mboxdir:DIR\"");
}

/* At most one defaults block.  What is wrong within it alone is said
 * once here, not once per account. */
static void check_defaults(struct conf_parse *ctx)
{
	unsigned n = cfg_size(ctx->root, section_defaults);
	cfg_t *d = n > 0 ? cfg_getnsec(ctx->root, section_defaults, 0) : NULL;

	ctx->defaults = d;
	for (unsigned i = 1; i < n; i++) {
		cfg_t *sec = cfg_getnsec(ctx->root, section_defaults, i);
		ctx_report(
		    ctx, ctx_file(ctx, sec), sec_block_line(ctx, sec), NULL,
		    "a second \"%s\" block (the first is at %s:%d); "
		    "merge them into one",
		    section_defaults, ctx_file(ctx, d), sec_block_line(ctx, d));
	}
	if (d != NULL && cfg_size(d, "password") > 0 &&
	    cfg_size(d, "password_command") > 0)
		block_error(ctx, d,
			    "\"password\" and \"password_command\" exclude "
			    "each other; keep one");
}

static void conf_fill_account(struct conf_parse *ctx, cfg_t *sec,
			      struct conf_account *a)
{
	struct merge m = {.ctx = ctx, .sec = sec, .defaults = ctx->defaults};

	check_title(ctx, sec);
	check_required(&m);
	account_fill(&m, a);
	check_combinations(&m, a);
	a->line = sec_block_line(ctx, sec);
}

static void conf_fill(struct conf_parse *ctx, struct conf *conf)
{
	cfg_t *root = ctx->root;

	conf->state_file = get_str(root, "state_file", true);
	if (conf->state_file == NULL)
		conf->state_file = conf_default_state_file();
	conf->log_level = (enum log_level)cfg_getint(root, "log_level");
	conf->lock_timeout = (int)cfg_getint(root, "lock_timeout");
	conf->max_parallel = (int)cfg_getint(root, "max_parallel");
	check_defaults(ctx);
	conf->n_accounts = cfg_size(root, section_account);
	conf->accounts = xcalloc(conf->n_accounts, sizeof(*conf->accounts));
	for (size_t i = 0; i < conf->n_accounts; i++)
		conf_fill_account(
		    ctx, cfg_getnsec(root, section_account, (unsigned)i),
		    &conf->accounts[i]);
	if (conf->n_accounts == 0)
		ctx_add_error(ctx, xasprintf("%s: no account defined; add an "
					     "account \"NAME\" { ... } block",
					     ctx->name));
}

/* libconfuse accepts a file that ends inside a block; we do not. */
static void check_unclosed(struct conf_parse *ctx)
{
	for (size_t i = 0; i < ctx->n_maps; i++)
		if (ctx->maps[i]->unclosed != 0)
			ctx_add_error(ctx,
				      xasprintf("%s:%d: the %s block "
						"has no closing \"}\"",
						ctx->maps[i]->file,
						ctx->maps[i]->unclosed,
						ctx->maps[i]->unclosed_kind));
}

/* ---- permissions ---- */

static void check_secret_file(struct conf_parse *ctx, const char *file,
			      const struct stat *st)
{
	uid_t me = geteuid();
	struct passwd *pw;

	if (st->st_uid != me) {
		pw = getpwuid(me);
		ctx_add_error(ctx, xasprintf("%s: contains a password but is "
					     "owned by another user (uid %u); "
					     "run: chown %s %s && chmod 600 %s",
					     file, (unsigned)st->st_uid,
					     pw != NULL ? pw->pw_name : "$USER",
					     file, file));
	} else if ((st->st_mode & (S_IRGRP | S_IROTH)) != 0) {
		ctx_add_error(ctx, xasprintf("%s: contains a password but is "
					     "readable by others; run: chmod "
					     "600 %s",
					     file, file));
	}
}

/* MAIN_ST describes the main file as it was read. */
static void check_secret_files(struct conf_parse *ctx,
			       const struct stat *main_st)
{
	for (size_t i = 0; i < ctx->n_secret_files; i++) {
		const char *file = ctx->secret_files[i];
		struct stat st;
		if (strcmp(file, ctx->name) == 0)
			check_secret_file(ctx, file, main_st);
		else if (stat(file, &st) == 0)
			check_secret_file(ctx, file, &st);
		else
			ctx_add_error(
			    ctx, xasprintf("%s: %s", file, strerror(errno)));
	}
}

/* ---- the parse ---- */

/* Zeroes the passwords libconfuse holds before it frees them. */
static void clear_secrets(cfg_t *root)
{
	static const char *const sections[] = {section_account,
					       section_defaults};

	for (size_t k = 0; k < sizeof(sections) / sizeof(*sections); k++) {
		unsigned n = cfg_size(root, sections[k]);
		for (unsigned i = 0; i < n; i++) {
			cfg_t *sec = cfg_getnsec(root, sections[k], i);
			char *pw = cfg_size(sec, "password") > 0
				       ? cfg_getstr(sec, "password")
				       : NULL;
			if (pw != NULL)
				explicit_bzero(pw, strlen(pw));
		}
	}
}

static void ctx_free(struct conf_parse *ctx)
{
	for (size_t i = 0; i < ctx->n_maps; i++)
		file_map_free(ctx->maps[i]);
	free(ctx->maps);
	for (size_t i = 0; i < ctx->n_secret_files; i++)
		free(ctx->secret_files[i]);
	free(ctx->secret_files);
	free(ctx->errors);
}

/* Runs libconfuse over TEXT; problems land in ctx->errors. */
static int run_parser(struct conf_parse *ctx, const char *text, size_t len)
{
	FILE *fp;
	int r;

	ctx->root->filename = xstrdup(ctx->name);
	cfg_set_error_function(ctx->root, parse_errfunc);
	fp = fmemopen((void *)text, len, "r");
	if (fp == NULL) {
		ctx_add_error(ctx,
			      xasprintf("%s: %s", ctx->name, strerror(errno)));
		return -1;
	}
	r = cfg_parse_fp(ctx->root, fp);
	fclose(fp);
	if (r != CFG_SUCCESS && ctx->errors == NULL)
		ctx_add_error(ctx, xasprintf("%s: cannot parse", ctx->name));
	return r == CFG_SUCCESS ? 0 : -1;
}

/* Parses TEXT named NAME; MAIN_ST, when not NULL, asks for the
 * permission checks. */
static int parse_text(const char *name, const char *text, size_t len,
		      const struct stat *main_st, struct conf **conf_r,
		      char **err_r)
{
	struct conf_parse ctx = {.name = name};
	struct conf *conf = xcalloc(1, sizeof(*conf));

	if (memchr(text, '\0', len) != NULL) {
		*err_r = xasprintf("%s: contains a NUL byte", name);
		free(conf);
		return -1;
	}
	conf->path = xstrdup(name);
	parse_ctx = &ctx;
	ctx.root = schema_new();
	ctx_add_map(&ctx, file_map_new(name, text, len));
	if (run_parser(&ctx, text, len) == 0) {
		conf_fill(&ctx, conf);
		check_unclosed(&ctx);
	}
	if (main_st != NULL)
		check_secret_files(&ctx, main_st);
	parse_ctx = NULL;
	clear_secrets(ctx.root);
	cfg_free(ctx.root);
	if (ctx.errors != NULL) {
		*err_r = ctx.errors;
		ctx.errors = NULL;
		conf_free(&conf);
	}
	ctx_free(&ctx);
	*conf_r = conf;
	return conf != NULL ? 0 : -1;
}

/* ---- public ---- */

char *conf_default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/mailhaul/mailhaul.conf", xdg);
	return util_expand_tilde("~/.config/mailhaul/mailhaul.conf");
}

char *conf_default_state_file(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/mailhaul/state.db", xdg);
	return util_expand_tilde("~/.local/state/mailhaul/state.db");
}

/* Opens and reads the config PATH.  0, or -1 and *err_r. */
static int read_config(const char *path, struct stat *st, char **text_r,
		       size_t *len_r, char **err_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r = -1;

	if (fd < 0)
		*err_r = xasprintf("%s: %s", path, strerror(errno));
	else if (fstat(fd, st) < 0)
		*err_r = xasprintf("%s: %s", path, strerror(errno));
	else if (!S_ISREG(st->st_mode))
		*err_r = xasprintf("%s: not a regular file", path);
	else if (read_all(fd, text_r, len_r) < 0)
		*err_r = errno == EFBIG
			     ? xasprintf("%s: larger than %d bytes", path,
					 CONF_MAX_BYTES)
			     : xasprintf("%s: %s", path, strerror(errno));
	else
		r = 0;
	if (fd >= 0)
		close(fd);
	return r;
}

int conf_load(const char *path, struct conf **conf_r, char **err_r)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (read_config(path, &st, &text, &len, err_r) < 0)
		return -1;
	r = parse_text(path, text, len, &st, conf_r, err_r);
	explicit_bzero(text, len);
	free(text);
	return r;
}

int conf_load_string(const char *name, const char *text, struct conf **conf_r,
		     char **err_r)
{
	return parse_text(name, text, strlen(text), NULL, conf_r, err_r);
}

static void account_clear(struct conf_account *a)
{
	free(a->name);
	free(a->host);
	free(a->tls_ca_file);
	free(a->user);
	util_free_secret(&a->password);
	free(a->password_command);
	free(a->target_path);
	free(a->deliver);
	for (size_t i = 0; i < a->n_folders; i++)
		free(a->folders[i]);
	free(a->folders);
	free(a->move_to);
	explicit_bzero(a, sizeof(*a));
}

void conf_free(struct conf **conf)
{
	struct conf *c = *conf;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_accounts; i++)
		account_clear(&c->accounts[i]);
	free(c->accounts);
	free(c->path);
	free(c->state_file);
	free(c);
	*conf = NULL;
}

const struct conf_account *conf_find_account(const struct conf *conf,
					     const char *name)
{
	for (size_t i = 0; i < conf->n_accounts; i++)
		if (strcmp(conf->accounts[i].name, name) == 0)
			return &conf->accounts[i];
	return NULL;
}

const char *conf_protocol_name(enum conf_protocol p)
{
	return (unsigned)p <
		       sizeof(protocol_names) / sizeof(*protocol_names) - 1
		   ? protocol_names[p]
		   : "?";
}

const char *conf_tls_name(enum conf_tls t)
{
	return (unsigned)t < sizeof(tls_names) / sizeof(*tls_names) - 1
		   ? tls_names[t]
		   : "?";
}
