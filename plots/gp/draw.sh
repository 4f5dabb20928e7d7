# plots/gp/draw.sh - one figure file drawn by gnuplot, atomically (sourced by plots/figures.sh and
# plots/spec-figures.sh, which define die() and strict).
#   gp_draw PROG LABEL FILE TMP SCRIPT VARS
# runs `gnuplot -e "VARS; outfile='TMP'" SCRIPT` (TMP: a temporary name beside FILE) and
# renames the output to FILE when gnuplot succeeded and wrote something; gnuplot's warnings are
# printed as "PROG: LABEL: gnuplot says: ..." (errors with strict=1). A failure leaves no file.
gp_draw() {
    local prog=$1 label=$2 file=$3 tmp=$4 script=$5 vars=$6 msg
    rm -f "$tmp"
    if ! msg=$(gnuplot -e "$vars; outfile='$tmp'" "$script" 2>&1 </dev/null); then
        rm -f "$tmp"
        die "$label: gnuplot failed: $msg"
    fi
    if [ -n "$msg" ]; then
        echo "$prog: $label: gnuplot says: $msg" >&2
        [ "${strict:-0}" = 1 ] && { rm -f "$tmp"; die "$label: warnings are errors with --strict"; }
    fi
    [ -s "$tmp" ] || { rm -f "$tmp"; die "$label: gnuplot wrote no output ($file)"; }
    mv "$tmp" "$file"
}
