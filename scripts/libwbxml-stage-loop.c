/*
 * libwbxml-stage-loop: runs one of libwbxml's codec stages on one file N
 * times, for instruction counting under callgrind next to imps-wire's
 * `stage_loop` example (scripts/codec-callgrind.sh).
 *
 *   libwbxml-stage-loop xml_decode|wbxml_decode CSP11|CSP12 FILE N
 *
 * xml_decode is wbxml_tree_from_xml (FILE: the DOCTYPE variant, so
 * libwbxml knows the language); wbxml_decode is wbxml_tree_from_wbxml.
 * Each tree is destroyed after the run, as our decoder's tree is dropped.
 *   cc -O2 scripts/libwbxml-stage-loop.c $(pkg-config --cflags --libs libwbxml2)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wbxml/wbxml.h>

typedef struct WBXMLTree_s WBXMLTree;
WBXMLError wbxml_tree_from_xml(WB_UTINY *xml, WB_ULONG xml_len, WBXMLTree **tree);
WBXMLError wbxml_tree_from_wbxml(WB_UTINY *wbxml, WB_ULONG len, WBXMLLanguage lang,
                                 WBXMLCharsetMIBEnum charset, WBXMLTree **tree);
void wbxml_tree_destroy(WBXMLTree *tree);

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

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s xml_decode|wbxml_decode CSP11|CSP12 FILE N\n", argv[0]);
        return 2;
    }
    int xml = strcmp(argv[1], "xml_decode") == 0;
    WBXMLLanguage lang = strcmp(argv[2], "CSP11") == 0 ? WBXML_LANG_WV_CSP11 : WBXML_LANG_WV_CSP12;
    WB_ULONG len;
    unsigned char *buf = slurp(argv[3], &len);
    int n = atoi(argv[4]);
    for (int i = 0; i < n; i++) {
        WBXMLTree *tree = NULL;
        WBXMLError e = xml ? wbxml_tree_from_xml(buf, len, &tree)
                           : wbxml_tree_from_wbxml(buf, len, lang, WBXML_CHARSET_UNKNOWN, &tree);
        if (e != WBXML_OK) {
            fprintf(stderr, "%s: %s\n", argv[1], wbxml_errors_string(e));
            return 1;
        }
        wbxml_tree_destroy(tree);
    }
    return 0;
}
