# spec.gp - the figure of any spec's `plot:` declaration that has no paper script of its own
# (docs/figures.md, "Figures of your own specs"). Drawn by plots/spec-figures.sh as
#     gnuplot -e "gpdir='plots/gp'; data='DIR'; fmt='png'; outfile='F.png.tmp'; figure='F'; panels=N" spec.gp
# The figure's metric (plot.y) against plot.x: a line per series (mean over the runs of a point
# that remain after best-by-validation selection), one colour per curve, one dash pattern per
# style, one panel per panel; the 95% interval of each mean (Student's t, n - 1 degrees of
# freedom) as an error bar, none where a point has one run. The x axis is logarithmic when x is
# positive and spans at least a factor of 20.
# Data: plot_spec_points, plot_spec_series, plot_spec_info (plots/views.sql), all figures in one
# file each, filtered by the figure's name here.
# In table mode the elements are titled "series I" and "interval I" (I = series id) so
# tests/test_spec_figures.sh can count the points of each.
if (!exists('panels')) panels = 1
fig_w = panels > 1 ? 3.6 * panels + 2.4 : 8.0; fig_h = 4.6
load gpdir . '/style.gp'
eval begin_figure
V = 'plot_spec_points'; S = 'plot_spec_series'; I = 'plot_spec_info'
isf(z) = strcol('figure') eq figure

# ---- what is drawn: the figure's row of plot_spec_info ---------------------------------------------
m_label = ''; x_label = ''; log_x = 0; n_pts = 0
if (rows(I) > 0) {
    stats dat(I) using (isf(0) ? (m_label = strcol('metric_label'), x_label = strcol('x_label'), \
                                  log_x = column('log_x'), n_pts = column('n_points'), 0) : 0) nooutput
}
if (n_pts <= 0) {
    eval nodata(figure, V . ' (figure ' . figure . ')', exists('why') && strlen(why) > 0 ? why : 'no run of this figure has finished yet')
    exit
}

# ---- the series of the figure ------------------------------------------------------------------------
n_ser = 0; nstyles = 1
stats dat(S) using (isf(0) ? (n_ser = n_ser + 1, 0) : 0) nooutput
# one array per field, indexed by the series' rank k = 1..n_ser (size >= 1: gnuplot has no empty arrays)
array sids[n_ser > 0 ? n_ser : 1]; array snames[n_ser > 0 ? n_ser : 1]; array sstyle[n_ser > 0 ? n_ser : 1]
array spanel[n_ser > 0 ? n_ser : 1]; array sfs[n_ser > 0 ? n_ser : 1]; array scurve[n_ser > 0 ? n_ser : 1]
array sband[n_ser > 0 ? n_ser : 1]; array stitle[n_ser > 0 ? n_ser : 1]
k = 0
stats dat(S) using (isf(0) ? \
    (k = k + 1, sids[k] = int(column('series')), snames[k] = strcol('curve'), sstyle[k] = int(column('style_index')), \
     spanel[k] = int(column('panel_index')), sfs[k] = int(column('first_of_style')), \
     scurve[k] = int(column('curve_index')), sband[k] = int(column('n_band')), stitle[k] = strcol('style'), \
     nstyles = column('n_styles'), 0) : 0) nooutput
sid(k) = sids[k]
sname(k) = snames[k]
# A curve the paper's figures name keeps its colour; any other gets the categorical palette by index.
scolor(k) = curve_color(sname(k), -1) != spare_color(-1) ? curve_color(sname(k), -1) : animal_color(scurve[k])
sdash(k) = nstyles > 1 ? style_dash(sstyle[k]) : 1
spt(k) = curve_pt(scurve[k])
spanel_of(k) = spanel[k]

# ---- axes ------------------------------------------------------------------------------------------------
stats dat(V) using (isf(0) ? column('x') : NaN) name 'X' nooutput
stats dat(V) using (isf(0) ? column('y_lo') : NaN) name 'YL' nooutput
stats dat(V) using (isf(0) ? column('y_hi') : NaN) name 'YH' nooutput
if (log_x) {
    x_lo = X_min / 1.35; x_hi = X_max * 1.35
    set logscale x 10; set format x '%g'
    call gpdir . '/logtics.gp' 'x' sprintf('%.17g', x_lo) sprintf('%.17g', x_hi) '%g'
} else {
    pad = X_max > X_min ? 0.06 * (X_max - X_min) : (X_max != 0 ? 0.1 * abs(X_max) : 1)
    x_lo = X_min - pad; x_hi = X_max + pad
    unset logscale x; set format x '%g'; set xtics autofreq; set mxtics default
}
set xrange [x_lo : x_hi]
y_pad = YH_max > YL_min ? 0.08 * (YH_max - YL_min) : 0.05
set yrange [YL_min - y_pad : YH_max + y_pad]
set format y '%g'
set xlabel x_label
set ylabel m_label
set key outside right top Left reverse

# ---- the legend: a colour per curve, a dash pattern per style, the interval ------------------------------
kel = ''
kadd(e) = (kel = kel . (strlen(kel) > 0 ? ', ' : '') . e, 0)
seen = '|'
do for [k = 1:n_ser] {
    if (strstrt(seen, '|' . sname(k) . '|') == 0) {
        seen = seen . sname(k) . '|'
        z = kadd(sprintf("keyentry with linespoints lc rgb %d dt 1 lw lw_data pt %d ps ps_data title \"%s\"", \
                         scolor(k), spt(k), strlen(sname(k)) > 0 ? sname(k) : '(no curve label)'))
    }
}
do for [k = 1:(nstyles > 1 ? n_ser : 0)] {
    if (sfs[k] == 1) {
        z = kadd(sprintf("keyentry with lines lc rgb c_black dt %d lw lw_data title \"style %s\"", sdash(k), stitle[k]))
    }
}
z = kadd("keyentry with yerrorbars lc rgb c_black lw lw_data pt 7 ps ps_data title '95% interval (t, n-1 df)'")

# ---- the panels (several: side by side, the legend in a slot of its own) ---------------------------------
tbl(kind, k) = fmt eq 'table' ? sprintf('%s %d', kind, sid(k)) : ''
inp(z) = isf(0) && (panels <= 1 || column('panel_index') == pi)
if (multi && panels > 1) { set multiplot layout 1, panels + 1 title figure; unset key }
if (panels <= 1) { set title figure }
do for [pi = 1:panels] {
    el = ''
    add(e) = (el = el . (strlen(el) > 0 ? ', ' : '') . e, 0)
    if (panels > 1) {
        p_name = ''
        stats dat(S) using ((isf(0) && column('panel_index') == pi) ? (p_name = strcol('panel'), 0) : 0) nooutput
        set title p_name
    }
    do for [k = 1:n_ser] {
        if (panels <= 1 || spanel_of(k) == pi) {
            if (sband[k] > 0) {
                z = add(sprintf("dat(V) using ((inp(0) && column('series') == %d && column('has_ci') == 1) ? column('x') : NaN)" . \
                                ":'mean':'y_lo':'y_hi' with yerrorbars lc rgb %d lw lw_data pt %d ps ps_data" . \
                                " title '%s'", sid(k), scolor(k), spt(k), tbl('interval', k)))
            }
            z = add(sprintf("dat(V) using ((inp(0) && column('series') == %d) ? column('x') : NaN):'mean'" . \
                            " with linespoints lc rgb %d dt %d lw lw_data pt %d ps ps_data title '%s'", \
                            sid(k), scolor(k), sdash(k), spt(k), tbl('series', k)))
        }
    }
    if (fmt ne 'table' && panels <= 1) { z = add(kel) }
    eval 'plot ' . el
}
if (multi && panels > 1) {
    unset title; unset xlabel; unset ylabel; unset border; unset tics; unset grid; unset logscale
    set xrange [0:1]; set yrange [0:1]
    set key inside left center Left reverse
    eval 'plot NaN notitle, ' . kel
    unset multiplot
}
