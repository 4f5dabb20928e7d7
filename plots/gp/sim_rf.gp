# sim_rf.gp - simulated data: learned vs true receptive-field centres (the Gaussian readout's
# mean position mapped into the simulator's pixels by the affine fit of the evaluation), one
# point per neuron, coloured by animal; left the x, right the y coordinate; identity dashed.
# The run: plot_rf_run (the selected run with learned centres of the most animals).
# Data: plot_rf_centres, plot_rf_animals, plot_rf_run (plots/views.sql).
fig_w = 10.0; fig_h = 5.6
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_rf_centres') <= 0) {
    eval nodata('Learned vs true receptive-field centres', 'plot_rf_centres', \
                'no selected run has learned centres with a ground truth (simulated data, Gaussian readout)')
    exit
}
run_label = ''
free_pos = 0
stats dat('plot_rf_run') using (run_label = sprintf('run %.12s (%s, %d neurons of %d animal%s)', strcol('run_id'), \
    strcol('curve') eq '?' ? strcol('experiment') : strcol('curve'), column('n_neurons'), column('n_animals'), \
    column('n_animals') == 1 ? '' : 's'), \
    free_pos = strcol('predictor') eq 'none', 0) nooutput
# With the cortex predictor the affine fit aligns any positions with the truth (see plots/views.sql).
pos_note = free_pos ? 'positions learned per neuron' : \
    'positions from cortical coordinates: the affine fit matches them to the truth up to the simulated scatter, whatever was learned'
n_animals = rows('plot_rf_animals')
array a_names[n_animals > 0 ? n_animals : 1]; array a_rx[n_animals > 0 ? n_animals : 1]
array a_ry[n_animals > 0 ? n_animals : 1]; array a_n[n_animals > 0 ? n_animals : 1]
k = 0
stats dat('plot_rf_animals') using (k = k + 1, a_names[k] = strcol('animal'), \
    a_rx[k] = sprintf('%.3f', column('r_x')), a_ry[k] = sprintf('%.3f', column('r_y')), \
    a_n[k] = sprintf('%d', column('n')), 0) nooutput
stats dat('plot_rf_centres') using 'true_x' name 'TX' nooutput
stats dat('plot_rf_centres') using 'rf_x' name 'LX' nooutput
stats dat('plot_rf_centres') using 'true_y' name 'TY' nooutput
stats dat('plot_rf_centres') using 'rf_y' name 'LY' nooutput
pad(lo, hi) = 0.05 * (hi - lo)
min2(a, b) = a < b ? a : b
max2(a, b) = a > b ? a : b
set key outside bottom center vertical maxrows 3 Left reverse samplen 1 spacing 1.1
set size ratio -1
if (multi) { set multiplot layout 1, 2 title 'Learned vs true receptive-field centres: ' . run_label . "\n" . pos_note . \
                                             "\nlegend: animal: r = correlation of learned and true (neurons)" }
do for [coord = 1:2] {
    c_true = coord == 1 ? 'true_x' : 'true_y'; c_rf = coord == 1 ? 'rf_x' : 'rf_y'
    lo = coord == 1 ? min2(TX_min, LX_min) : min2(TY_min, LY_min)
    hi = coord == 1 ? max2(TX_max, LX_max) : max2(TY_max, LY_max)
    lo = lo - pad(lo, hi); hi = hi + pad(lo, hi)
    set xrange [lo:hi]; set yrange [lo:hi]
    set xlabel sprintf('true %s (px)', coord == 1 ? 'x' : 'y')
    set ylabel sprintf('learned %s (px)', coord == 1 ? 'x' : 'y')
    r_of(a) = coord == 1 ? a_rx[a] : a_ry[a]
    el = "x with lines lc rgb '#888888' dt 2 lw lw_ref title 'identity'"
    do for [a = 1:n_animals] {
        el = el . sprintf(", dat('plot_rf_centres') using (column('animal_index') == %d ? column('%s') : NaN):'%s'" . \
             " with points pt 7 ps 0.45 lc rgb %d title \"%s\"", a, c_true, c_rf, animal_color(a) + 0x40 * 2**24, \
             fmt eq 'table' ? sprintf('animal %d', a) : \
             sprintf('%s: r = %s (%s)', a_names[a], r_of(a), a_n[a]))
    }
    eval 'plot ' . el
}
if (multi) { unset multiplot }
