# training.gp - the training curve of one run (plot_chosen_run: direct training on the
# evaluation scan with the most images): validation correlation per epoch (left axis) and the
# learning rate (right axis, log), whose drops mark the early-stopping rounds (docs/paper.md §4.4).
# Data: plot_training_curve, plot_chosen_run (plots/views.sql).
fig_w = 6.4; fig_h = 4.2
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_training_curve') <= 0) {
    eval nodata('Training curve', 'plot_training_curve', 'no selected run has recorded epochs')
    exit
}
run_label = ''
stats dat('plot_chosen_run') using (run_label = sprintf('run %.12s: %s, %g images', strcol('run_id'), \
    strcol('curve') eq '?' ? strcol('experiment') : strcol('curve'), column('x')), 0) nooutput
stats dat('plot_training_curve') using 'epoch' name 'E' nooutput
stats dat('plot_training_curve') using 'val_corr' name 'V' nooutput
stats dat('plot_training_curve') using 'lr' name 'L' nooutput
set title 'Training curve: ' . run_label
set xrange [E_min - 0.5 : E_max + 0.5]
set yrange [(V_min < 0 ? V_min - 0.05 : 0) : (V_max > 0 ? V_max * 1.15 : 1)]
set xlabel 'epoch'
set ylabel 'validation correlation'
set y2label 'learning rate'
set logscale y2 10
set y2range [L_min / 3 : L_max * 3]
set y2tics
call gpdir . '/logtics.gp' 'y2' sprintf('%.17g', L_min / 3) sprintf('%.17g', L_max * 3) '%g'
set border 11 lw lw_ref
set key outside bottom center horizontal Left reverse
set xtics nomirror; set ytics nomirror
plot dat('plot_training_curve') using 'epoch':'val_corr' with linespoints lc rgb c_blue lw lw_data pt pt_data ps ps_data \
         title 'validation correlation', \
     dat('plot_training_curve') using 'epoch':'lr' axes x1y2 with steps lc rgb c_orange lw lw_data dt 2 \
         title 'learning rate (right)'
