/* SPDX-License-Identifier: ISC */
#include "config.h"

#include "plan.h"
#include "tap.h"

struct plan_case {
	bool keep, has_uids, seen, no_delete;
	int ok;
	enum plan_action want;
	const char *what;
};

static const struct plan_case cases[] = {
	{true, true, false, false, 1, PLAN_FETCH, "keep: new message fetched"},
	{true, true, true, false, 1, PLAN_SKIP, "keep: archived message left alone"},
	{false, true, false, false, 1, PLAN_FETCH_DELETE,
	 "no keep: new message fetched, then deleted"},
	{false, true, true, false, 1, PLAN_DELETE,
	 "no keep: archived message deleted without fetching"},
	{false, false, false, false, 1, PLAN_FETCH_DELETE,
	 "no keep, no UIDL: fetched then deleted"},
	{true, false, false, false, 0, PLAN_SKIP, "keep without UIDL is refused"},
	{false, true, false, true, 1, PLAN_FETCH,
	 "no keep, protected: new message fetched, never deleted"},
	{false, true, true, true, 1, PLAN_SKIP,
	 "no keep, protected: archived message left on the server"},
	{true, true, true, true, 1, PLAN_SKIP,
	 "keep, protected: archived message left alone"},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct plan_case *c = &cases[i];
		struct plan_msg m = {.seen = c->seen,
				   .no_delete = c->no_delete};
		struct plan_rules r = {.keep = c->keep,
				       .has_uids = c->has_uids};
		enum plan_action a = PLAN_SKIP;
		const char *why = NULL;
		int ret = plan_make(&m, 1, &r, 0, &a, &why);
		tap_ok(c->ok ? ret == 0 && a == c->want
			     : ret < 0 && why != NULL,
		       c->what);
	}
	struct plan_rules r = {.keep = true, .has_uids = false};
	const char *why = NULL;
	tap_ok(plan_make(NULL, 0, &r, 0, NULL, &why) == 0,
	       "empty mailbox without UIDL is fine");
	return tap_done();
}
