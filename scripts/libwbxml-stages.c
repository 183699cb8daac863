/*
 * libwbxml-stages: times libwbxml's four codec stages in one process, so
 * they can be set against ours without process start-up in the figures.
 *
 *   libwbxml-stages RUNS LANG FILE.doctype.xml FILE.wbxml
 *
 * LANG is CSP11 or CSP12. Prints one line of medians in microseconds:
 *   xml_decode=.. wbxml_encode=.. wbxml_decode=.. xml_encode=..
 * which map to libwbxml's tree API: wbxml_tree_from_xml (expat),
 * wbxml_tree_to_wbxml, wbxml_tree_from_wbxml, wbxml_tree_to_xml (compact),
 * the same work our xml::decode, wbxml::encode, wbxml::decode and
 * xml::encode do. Each pair of stages first runs untimed for WARMUP_NS
 * (caches, allocator, frequency settle; imps-bench does the same for
 * ours), then at most RUNS times, stopping early after STAGE_BUDGET_NS so
 * a slow stage cannot hold the benchmark.
 *
 * Debian's libwbxml2-dev ships only the converter header, not the tree
 * header; the tree functions are exported, so their 0.11 prototypes are
 * declared here. Built by scripts/bench-codec-vs-libwbxml.sh:
 *   cc -O2 scripts/libwbxml-stages.c $(pkg-config --cflags --libs libwbxml2)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wbxml/wbxml.h>

typedef struct WBXMLTree_s WBXMLTree;
WBXMLError wbxml_tree_from_xml(WB_UTINY *xml, WB_ULONG xml_len, WBXMLTree **tree);
WBXMLError wbxml_tree_to_wbxml(WBXMLTree *tree, WB_UTINY **wbxml, WB_ULONG *len,
                               WBXMLGenWBXMLParams *params);
WBXMLError wbxml_tree_from_wbxml(WB_UTINY *wbxml, WB_ULONG len, WBXMLLanguage lang,
                                 WBXMLCharsetMIBEnum charset, WBXMLTree **tree);
WBXMLError wbxml_tree_to_xml(WBXMLTree *tree, WB_UTINY **xml, WB_ULONG *len,
                             WBXMLGenXMLParams *params);
void wbxml_tree_destroy(WBXMLTree *tree);

#define STAGE_BUDGET_NS (5LL * 1000 * 1000 * 1000)
#define WARMUP_NS (200LL * 1000 * 1000)

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static unsigned char *slurp(const char *path, WB_ULONG *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len = (WB_ULONG)n;
    return buf;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static double median_us(long long *ns, int n) {
    qsort(ns, (size_t)n, sizeof *ns, cmp_ll);
    return ns[n / 2] / 1000.0;
}

static void check(WBXMLError e, const char *what) {
    if (e != WBXML_OK) {
        fprintf(stderr, "%s: %s\n", what, wbxml_errors_string(e));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s RUNS CSP11|CSP12 FILE.doctype.xml FILE.wbxml\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[1]);
    if (runs < 1) runs = 1;
    WBXMLLanguage lang = strcmp(argv[2], "CSP11") == 0 ? WBXML_LANG_WV_CSP11 : WBXML_LANG_WV_CSP12;
    WB_ULONG xml_len, bin_len;
    unsigned char *xml = slurp(argv[3], &xml_len);
    unsigned char *bin = slurp(argv[4], &bin_len);
    long long *t[4];
    int done[4] = {0, 0, 0, 0};
    for (int s = 0; s < 4; s++) t[s] = calloc((size_t)runs, sizeof(long long));

    /* libwbxml's defaults, as its converters use them. */
    WBXMLGenWBXMLParams wp = {WBXML_VERSION_13, FALSE, TRUE, FALSE};
    WBXMLGenXMLParams xp = {WBXML_GEN_XML_COMPACT, WBXML_LANG_UNKNOWN, WBXML_CHARSET_UNKNOWN, 0, FALSE};
    long long warm = now_ns(), start = 0;
    for (int r = 0; r < runs && (start == 0 || now_ns() - start < STAGE_BUDGET_NS);) {
        WBXMLTree *tree = NULL;
        WB_UTINY *out = NULL;
        WB_ULONG out_len = 0;
        long long t0 = now_ns();
        check(wbxml_tree_from_xml(xml, xml_len, &tree), "wbxml_tree_from_xml");
        long long t1 = now_ns();
        check(wbxml_tree_to_wbxml(tree, &out, &out_len, &wp), "wbxml_tree_to_wbxml");
        long long t2 = now_ns();
        free(out);
        wbxml_tree_destroy(tree);
        if (start == 0) {
            if (now_ns() - warm >= WARMUP_NS) start = now_ns();
            continue;
        }
        t[0][done[0]++] = t1 - t0;
        t[1][done[1]++] = t2 - t1;
        r++;
    }
    warm = now_ns();
    start = 0;
    for (int r = 0; r < runs && (start == 0 || now_ns() - start < STAGE_BUDGET_NS);) {
        WBXMLTree *tree = NULL;
        WB_UTINY *out = NULL;
        WB_ULONG out_len = 0;
        long long t0 = now_ns();
        check(wbxml_tree_from_wbxml(bin, bin_len, lang, WBXML_CHARSET_UNKNOWN, &tree),
              "wbxml_tree_from_wbxml");
        long long t1 = now_ns();
        check(wbxml_tree_to_xml(tree, &out, &out_len, &xp), "wbxml_tree_to_xml");
        long long t2 = now_ns();
        free(out);
        wbxml_tree_destroy(tree);
        if (start == 0) {
            if (now_ns() - warm >= WARMUP_NS) start = now_ns();
            continue;
        }
        t[2][done[2]++] = t1 - t0;
        t[3][done[3]++] = t2 - t1;
        r++;
    }
    printf("xml_decode=%.3f wbxml_encode=%.3f wbxml_decode=%.3f xml_encode=%.3f runs=%d\n",
           median_us(t[0], done[0]), median_us(t[1], done[1]), median_us(t[2], done[2]),
           median_us(t[3], done[3]), done[0] < done[2] ? done[0] : done[2]);
    return 0;
}
