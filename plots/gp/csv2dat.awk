# csv2dat.awk - an exported view (RFC 4180 CSV with a header row, as `nsid-db export` writes
# it) as a whitespace-separated table that gnuplot reads without ambiguity:
#   - the header row stays (gnuplot's column('name') and columnheader use it);
#   - numbers stay as they are; an empty field (SQL NULL) becomes ? (set datafile missing "?");
#   - every other field becomes a "double-quoted string" (gnuplot keeps "a, b" as one column
#     in whitespace mode, whereas its CSV mode splits it at the comma); double quotes inside
#     become single quotes, tabs and newlines spaces.
#
#   awk -f csv2dat.awk view.csv > view.dat
# Fails (exit 1, message on stderr) if a quoted field is never closed or a row has a number
# of fields that differs from the header's.

function emit(field, quoted) {
    if (!quoted && field == "") return "?"
    if (!quoted && field ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) return field
    gsub(/"/, "'", field)
    gsub(/[\t\r\n]/, " ", field)
    if (field == "") return "?"
    return "\"" field "\""
}

# Split one logical CSV record (rec) into out[1..n]; returns n.
function split_csv(rec, out,    n, i, c, field, inq, quoted) {
    n = 0; field = ""; inq = 0; quoted = 0
    for (i = 1; i <= length(rec); i++) {
        c = substr(rec, i, 1)
        if (inq) {
            if (c == "\"") {
                if (substr(rec, i + 1, 1) == "\"") { field = field "\""; i++ }
                else inq = 0
            } else field = field c
        } else if (c == "\"") { inq = 1; quoted = 1 }
        else if (c == ",") { out[++n] = emit(field, quoted); field = ""; quoted = 0 }
        else if (c != "\r") field = field c
    }
    out[++n] = emit(field, quoted)
    return n
}

# Number of double quotes in s (odd: a quoted field continues on the next line).
function quotes(s,    t) { t = s; return gsub(/"/, "", t) }

{
    rec = (pending == "") ? $0 : pending "\n" $0
    if (quotes(rec) % 2 == 1) { pending = rec; next }
    pending = ""
    if (NR == 1 || header_n == 0) {
        header_n = split(rec, names, ",")
        line = ""
        for (i = 1; i <= header_n; i++) { gsub(/[" ]/, "", names[i]); line = line (i > 1 ? " " : "") names[i] }
        print line
        next
    }
    n = split_csv(rec, f)
    if (n != header_n) {
        printf "csv2dat: %s: record %d has %d fields, the header %d\n", FILENAME, NR, n, header_n > "/dev/stderr"
        bad = 1
        exit 1
    }
    line = f[1]
    for (i = 2; i <= n; i++) line = line " " f[i]
    print line
}

END {
    if (bad) exit 1
    if (pending != "") {
        printf "csv2dat: %s: a quoted field is never closed\n", FILENAME > "/dev/stderr"
        exit 1
    }
}
