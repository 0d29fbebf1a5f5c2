/*
 * counters.c: hardware counters through PAPI (bench.h: mb_counters_*).
 *
 * Events are PAPI presets (PAPI_TOT_CYC, PAPI_L1_DCM) or native names (perf::TASK-CLOCK,
 * ix86arch::INSTRUCTION_RETIRED), in one event set started and stopped at the runner's timer boundaries.
 * PAPI counts the calling thread: for threads:N instances the figures are the benchmark thread's share.
 * Where nothing can be counted (a VM without a PMU), setup returns 0 and the status says why, in PAPI's words:
 * no zeros are ever reported as measurements.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MB_HAVE_PAPI
#include <papi.h>
#endif

#define MB_MAX_EVENTS 8

static char status[512] = "not requested";
static int nevents;
static bool set_up;
static char names[MB_MAX_EVENTS][64];

#if MB_HAVE_PAPI
static int evset = PAPI_NULL;

/* PAPI_library_init once; on failure the reason, else NULL */
static const char *papi_init(void)
{
    static int rc = 0;
    static char why[256];
    if (rc == 0) {
        rc = PAPI_library_init(PAPI_VER_CURRENT);
        if (rc != PAPI_VER_CURRENT)
            snprintf(why, sizeof why, "PAPI_library_init: %s", rc > 0 ? "version mismatch" : PAPI_strerror(rc));
    }
    return rc == PAPI_VER_CURRENT ? NULL : why;
}

/* Can this machine count hardware events at all? Number of presets that can be added to an event set, and
 * a reason when 0. PAPI_query_event alone is not enough: on a VM without a virtual PMU libpfm still
 * recognises the CPU (Zen 3 here: 23 presets "available"), yet adding any of them fails. */
static int papi_hw_presets(char *why, size_t n)
{
    int code = PAPI_PRESET_MASK, listed = 0, usable = 0, es = PAPI_NULL, last = PAPI_OK;
    char first[PAPI_MAX_STR_LEN] = "";
    if (PAPI_create_eventset(&es) != PAPI_OK) es = PAPI_NULL;
    if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) == PAPI_OK) do {
            if (PAPI_query_event(code) != PAPI_OK) continue;
            listed++;
            int rc = es == PAPI_NULL ? PAPI_ECMP : PAPI_add_event(es, code);
            if (rc == PAPI_OK) {
                usable++;
                PAPI_remove_event(es, code);
            } else if (!*first) {
                last = rc;
                PAPI_event_code_to_name(code, first);
            }
        } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
    if (es != PAPI_NULL) PAPI_destroy_eventset(&es);
    if (usable == 0) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(0);
        int o = snprintf(why, n, "PAPI %d.%d: 0 hardware counters", PAPI_VERSION_MAJOR(PAPI_VERSION),
                         PAPI_VERSION_MINOR(PAPI_VERSION));
        if (listed && o < (int)n)
            o += snprintf(why + o, n - (size_t)o, "; %d presets listed for this CPU, none can be added (%s: %s)",
                          listed, first, PAPI_strerror(last));
        if (ci && ci->disabled && o < (int)n) snprintf(why + o, n - (size_t)o, "; %.200s", ci->disabled_reason);
    }
    return usable;
}
#endif

int mb_counters_setup(const char *events)
{
    set_up = true;
    nevents = 0;
    bool requested = events && *events;
#if !MB_HAVE_PAPI
    snprintf(status, sizeof status, "%s",
             requested ? "unavailable: built without PAPI" : "not requested (built without PAPI)");
    if (requested) fprintf(stderr, "matbench: perf counters %s\n", status);
    return 0;
#else
    const char *err = papi_init();
    char why[384] = "";
    int presets = err ? 0 : papi_hw_presets(why, sizeof why);
    if (!requested) {
        if (err)
            snprintf(status, sizeof status, "not requested (PAPI unavailable: %s)", err);
        else if (presets == 0)
            snprintf(status, sizeof status, "not requested (%s)", why);
        else
            snprintf(status, sizeof status, "not requested (PAPI: %d hardware presets can be counted)", presets);
        return 0;
    }
    if (err) {
        snprintf(status, sizeof status, "unavailable: %s", err);
        fprintf(stderr, "matbench: perf counters %s\n", status);
        return 0;
    }
    if (evset != PAPI_NULL) {
        PAPI_cleanup_eventset(evset);
        PAPI_destroy_eventset(&evset);
    }
    int rc = PAPI_create_eventset(&evset);
    if (rc != PAPI_OK) {
        fprintf(stderr, "%s:%d: PAPI_create_eventset: %s\n", __FILE__, __LINE__, PAPI_strerror(rc));
        exit(EXIT_FAILURE);
    }
    char list[512];
    snprintf(list, sizeof list, "%s", events);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nevents == MB_MAX_EVENTS) {
            snprintf(status, sizeof status, "unavailable: more than %d events requested", MB_MAX_EVENTS);
            break;
        }
        rc = PAPI_add_named_event(evset, tok);
        if (rc != PAPI_OK) {
            /* a hardware event missing on a machine without any is the machine's limit, say so */
            snprintf(status, sizeof status, "unavailable: %s: %s%s%s", tok, PAPI_strerror(rc), presets ? "" : "; ",
                     presets ? "" : why);
            nevents = -1;
            break;
        }
        snprintf(names[nevents++], sizeof names[0], "%s", tok);
    }
    if (nevents <= 0) {
        nevents = 0;
        fprintf(stderr, "matbench: perf counters %s\n", status);
        return 0;
    }
    int o = snprintf(status, sizeof status, "ok: PAPI %d.%d, calling thread:", PAPI_VERSION_MAJOR(PAPI_VERSION),
                     PAPI_VERSION_MINOR(PAPI_VERSION));
    for (int i = 0; i < nevents && o < (int)sizeof status; i++)
        o += snprintf(status + o, sizeof status - (size_t)o, " %s", names[i]);
    return nevents;
#endif
}

/* never set up (no --benchmark_perf_counters): still say whether PAPI could count */
const char *mb_counters_status(void)
{
    if (!set_up) mb_counters_setup(NULL);
    return status;
}
int mb_counters_count(void)
{
    return nevents;
}
const char *mb_counters_name(int i)
{
    return i >= 0 && i < nevents ? names[i] : NULL;
}

void mb_counters_start(void)
{
#if MB_HAVE_PAPI
    if (nevents == 0) return;
    int rc = PAPI_start(evset);
    if (rc != PAPI_OK) {
        fprintf(stderr, "%s:%d: PAPI_start: %s\n", __FILE__, __LINE__, PAPI_strerror(rc));
        exit(EXIT_FAILURE);
    }
#endif
}

void mb_counters_stop(long long *values)
{
#if MB_HAVE_PAPI
    if (nevents == 0) return;
    long long v[MB_MAX_EVENTS];
    int rc = PAPI_stop(evset, v);
    if (rc != PAPI_OK) {
        fprintf(stderr, "%s:%d: PAPI_stop: %s\n", __FILE__, __LINE__, PAPI_strerror(rc));
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < nevents; i++) values[i] += v[i];
#else
    (void)values;
#endif
}
