# sim_gt.gp - simulated data: how well the models recover the true firing rates. Left: per
# neuron of the chosen run (plot_chosen_run: direct training on the evaluation scan with the
# most images), the correlation of the prediction with the simulator's true rates against
# its correlation with single trials (which noise bounds); identity dashed. Right: the mean
# correlation with the true rates over Fig. 5's curves and training-set sizes.
# Data: plot_gt_neurons, plot_chosen_run, plot_gt_curves, plot_gt_series (plots/views.sql).
fig_w = 11.0; fig_h = 4.8
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_gt_neurons') <= 0 && rows('plot_gt_curves') <= 0) {
    eval nodata('Model vs ground truth', 'plot_gt_neurons', 'no finished run was evaluated against a ground truth (simulated data)')
    exit
}
if (multi) { set multiplot layout 1, 2 title 'Model predictions vs the simulated ground truth' }
# ---- left: per neuron of the chosen run ----
if (rows('plot_gt_neurons') > 0) {
    run_label = ''
    stats dat('plot_chosen_run') using (run_label = sprintf('run %.12s: %s, %g images', strcol('run_id'), \
        strcol('curve') eq '?' ? strcol('experiment') : strcol('curve'), column('x')), 0) nooutput
    stats dat('plot_gt_neurons') using 'gt_corr' name 'G' nooutput
    stats dat('plot_gt_neurons') using 'test_corr' name 'T' nooutput
    set title run_label
    set xrange [(T_min < 0 ? T_min - 0.05 : 0):1]; set yrange [(G_min < 0 ? G_min - 0.05 : 0):1]
    set size ratio -1
    set xlabel 'correlation with single trials (test)'
    set ylabel 'correlation with the true rates'
    set key bottom right Left reverse
    plot x with lines lc rgb '#888888' dt 2 lw lw_ref title 'identity', \
         dat('plot_gt_neurons') using 'test_corr':'gt_corr' with points pt 7 ps 0.5 lc rgb (c_blue + 0x30 * 2**24) \
             title (fmt eq 'table' ? 'neurons' : sprintf('%d neurons', G_records))
} else {
    eval nodata('per neuron', 'plot_gt_neurons', 'the chosen run has no per-neuron ground-truth correlations')
    unset label 1; unset label 2; unset label 3; set border 3; set tics; set grid
}
# ---- right: mean over Fig. 5's curves ----
set size noratio
set autoscale xy
unset title
if (rows('plot_gt_curves') > 0) {
    n_ser = rows('plot_gt_series')
    array snames[n_ser > 0 ? n_ser : 1]
    k = 0
    stats dat('plot_gt_series') using (k = k + 1, snames[k] = strcol('curve'), 0) nooutput
    stats dat('plot_gt_curves') using 'x' name 'X' nooutput
    stats dat('plot_gt_curves') using 'gt_corr' name 'Y' nooutput
    set title 'Fig. 5 runs: mean over neurons'
    set xrange [X_min / 1.35 : X_max * 1.35]
    eval log_images
    call gpdir . '/logtics.gp' 'x' sprintf('%.17g', X_min / 1.35) sprintf('%.17g', X_max * 1.35)
    set yrange [(Y_min < 0 ? Y_min - 0.05 : 0):1]
    set xlabel '# images'
    set ylabel 'correlation with the true rates'
    set key outside right top Left reverse
    el = ''
    do for [k = 1:n_ser] {
        el = el . (k > 1 ? ', ' : '') . sprintf("dat('plot_gt_curves') using (column('series') == %d ? column('x') : NaN):'gt_corr'" . \
             " with linespoints lc rgb %d dt %d lw lw_data pt %d ps ps_data title \"%s\"", k, \
             curve_color(snames[k], k), curve_dash(snames[k]), curve_pt(k), \
             fmt eq 'table' ? sprintf('series %d', k) : snames[k])
    }
    eval 'plot ' . el
} else {
    eval nodata('Fig. 5 runs', 'plot_gt_curves', 'no Fig. 5 run has a ground-truth correlation')
}
if (multi) { unset multiplot }
