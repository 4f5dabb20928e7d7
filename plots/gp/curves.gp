# curves.gp - one panel of "fraction oracle vs # images" (Fig. 3, its ablation, Fig. 4's panels,
# Fig. 5): a line per series (mean over the selected runs), its 95% band across seeds, the
# paper's digitised values faint behind, and a legend with one entry per curve (colour) and
# per neuron count (dash pattern). Loaded by the figure scripts after style.gp with:
#     V          points view (plot_fig3 ...: series, panel_index, x, x_total, mean, ci_lo, ci_hi)
#     S          its series view (plot_fig3_series ...)
#     P          the paper's values (paper_fig3 ...: figure, panel, curve, style, x, value), '' none
#     panel      panel_index to draw (0: every series)
#     paper_panel  panel name in P ('' : any), paper_style: style in P to draw ('' : any)
#     top_label  label of the top axis (x_total / x), '' : none
#     panel_title  title above the panel, '' : none
#     key_pos    'top left' ...
# In table mode the curves are titled "series I", "band I", "paper I" (I = series id) so
# tests/test_figures.sh can count the points of each.

# ---- this panel's series: ids, curve names and legend flags, from the series view ----------------------
set autoscale xy; unset logscale; unset x2tics; unset x2label; unset title
in_panel(z) = panel == 0 || column('panel_index') == panel
n_ser = 0; nstyles = 1
stats dat(S) using (in_panel(0) ? (n_ser = n_ser + 1, 0) : 0) nooutput
# one array per field, indexed by the series' rank k = 1..n_ser (size >= 1: gnuplot has no empty arrays)
array sids[n_ser > 0 ? n_ser : 1]; array snames[n_ser > 0 ? n_ser : 1]; array sstyle[n_ser > 0 ? n_ser : 1]
array sfs[n_ser > 0 ? n_ser : 1]; array scurve[n_ser > 0 ? n_ser : 1]; array sband[n_ser > 0 ? n_ser : 1]
array stitle[n_ser > 0 ? n_ser : 1]
k = 0
stats dat(S) using (in_panel(0) ? \
    (k = k + 1, sids[k] = int(column('series')), snames[k] = strcol('curve'), sstyle[k] = int(column('style_index')), \
     sfs[k] = int(column('first_of_style')), scurve[k] = int(column('curve_index')), sband[k] = int(column('n_band')), \
     stitle[k] = strcol('style_title'), nstyles = column('n_styles'), 0) : 0) nooutput

sid(k) = sids[k]
sname(k) = snames[k]
scolor(k) = curve_color(sname(k), sid(k))
sdash(k) = nstyles > 1 ? style_dash(sstyle[k]) : curve_dash(sname(k))
kdash(k) = nstyles > 1 ? 1 : sdash(k)
spt(k) = curve_pt(scurve[k])

# The paper's curves for the series that carry a curve's legend entry, if P has that curve.
paper_names = '|'
if (strlen(P) > 0 && rows(P) > 0) {
    stats dat(P) using ((strlen(paper_panel) == 0 || strcol('panel') eq paper_panel) && \
                        (strlen(paper_style) == 0 || strcol('style') eq paper_style) && \
                        strstrt(paper_names, '|' . strcol('curve') . '|') == 0 ? \
                        (paper_names = paper_names . strcol('curve') . '|', 0) : 0) nooutput
}
# first(k): series k is the first of its curve in this panel (it carries the legend entry and
# the paper's curve).
array sfirst[n_ser > 0 ? n_ser : 1]; array pks[n_ser > 0 ? n_ser : 1]; array bks[n_ser > 0 ? n_ser : 1]
n_paper = 0; n_band = 0; seen = '|'
do for [k = 1:n_ser] {
    sfirst[k] = strstrt(seen, '|' . sname(k) . '|') == 0
    seen = seen . sname(k) . '|'
    if (sfirst[k] && strstrt(paper_names, '|' . sname(k) . '|') > 0) { n_paper = n_paper + 1; pks[n_paper] = k }
    if (sband[k] > 0) { n_band = n_band + 1; bks[n_band] = k }
}
first(k) = sfirst[k]
# (gnuplot evaluates a plot element's options even when its iteration is empty)
pk(j) = j <= n_paper ? pks[j] : 1; bk(j) = j <= n_band ? bks[j] : 1
paper_any(z) = (strlen(paper_panel) == 0 || strcol('panel') eq paper_panel) && \
              (strlen(paper_style) == 0 || strcol('style') eq paper_style)
paper_row(k) = paper_any(0) && strcol('curve') eq sname(k)
inp(z) = in_panel(z)

# ---- axes: log # images; the top axis shows images per scan (x_total / x) --------------------------------
stats dat(V) using (inp(0) ? column('x_total') : NaN) name 'X' nooutput
stats dat(V) using (inp(0) ? column('x_total') / column('x') : NaN) name 'R' nooutput
stats dat(V) using (inp(0) ? column('mean') : NaN) name 'Y' nooutput
x_lo = X_min; x_hi = X_max
if (n_paper > 0) {
    stats dat(P) using (paper_any(0) ? column('x') : NaN) name 'PX' nooutput
    x_lo = (PX_min < x_lo) ? PX_min : x_lo; x_hi = (PX_max > x_hi) ? PX_max : x_hi
}
set xrange [x_lo / 1.35 : x_hi * 1.35]
eval log_images
call gpdir . '/logtics.gp' 'x' sprintf('%.17g', x_lo / 1.35) sprintf('%.17g', x_hi * 1.35)
set yrange [(Y_min < 0 ? Y_min - 0.05 : 0) : 1]
set ytics 0.2; set format y '%.1f'
set xlabel '# images'
set ylabel 'fraction oracle'
ratio = R_max
if (strlen(top_label) > 0 && ratio > 1.0001) {
    set logscale x2 10
    set x2range [x_lo / 1.35 / ratio : x_hi * 1.35 / ratio]
    set x2tics
    call gpdir . '/logtics.gp' 'x2' sprintf('%.17g', x_lo / 1.35 / ratio) sprintf('%.17g', x_hi * 1.35 / ratio)
    set x2label top_label
    set border 11 lw lw_ref
} else {
    unset x2tics; unset x2label; unset logscale x2
    set border 3 lw lw_ref
}
if (strlen(panel_title) > 0) { set title panel_title } else { unset title }
eval sprintf('set key %s', key_pos)

# ---- the plot: bands, paper, our lines, legend ------------------------------------------------------------
# Built as a string of only the elements that exist (gnuplot 5.4 runs `plot for [i=1:0]` once).
tbl(kind, k) = fmt eq 'table' ? sprintf('%s %d', kind, sid(k)) : ''
el = ''
add(e) = (el = el . (strlen(el) > 0 ? ', ' : '') . e, 0)
do for [j = 1:n_band] {
    k = bk(j)
    z = add(sprintf("dat(V) using ((inp(0) && column('series') == %d) ? column('x_total') : NaN):'ci_lo':'ci_hi'" . \
                    " with filledcurves fc rgb %d title '%s'", sid(k), scolor(k), tbl('band', k)))
}
do for [j = 1:n_paper] {
    k = pk(j)
    z = add(sprintf("dat(P) using (paper_row(%d) ? column('x') : NaN):'value' with linespoints lc rgb %d dt 1" . \
                    " lw lw_paper pt pt_paper ps ps_paper title '%s'", k, faint(scolor(k)), tbl('paper', k)))
}
do for [k = 1:n_ser] {
    z = add(sprintf("dat(V) using ((inp(0) && column('series') == %d) ? column('x_total') : NaN):'mean'" . \
                    " with linespoints lc rgb %d dt %d lw lw_data pt %d ps ps_data title '%s'", \
                    sid(k), scolor(k), sdash(k), spt(k), tbl('series', k)))
}
# The legend: a colour per curve, a dash pattern per neuron count, the paper's style.
if (fmt ne 'table') {
    do for [k = 1:n_ser] {
        if (first(k)) {
            z = add(sprintf("keyentry with linespoints lc rgb %d dt %d lw lw_data pt %d ps ps_data title \"%s\"", \
                            scolor(k), kdash(k), spt(k), sname(k)))
        }
    }
    do for [k = 1:(nstyles > 1 ? n_ser : 0)] {
        if (sfs[k] == 1) {
            z = add(sprintf("keyentry with lines lc rgb c_black dt %d lw lw_data title \"%s\"", sdash(k), stitle[k]))
        }
    }
    if (n_paper > 0) {
        z = add("keyentry with linespoints lc rgb faint(c_black) lw lw_paper pt pt_paper ps ps_paper title paper_key")
    }
}
eval 'plot ' . el
