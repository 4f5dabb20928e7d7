# fig3.gp - Fig. 3 (docs/paper.md §7.3): direct training on 4-S, readout comparison. Fraction oracle
# vs # images (total over the 4 scans; top axis: per scan), a colour per readout, a dash
# pattern per number of neurons, 95% bands across neuron-subset seeds, the paper faint.
# Data: plot_fig3, plot_fig3_series (plots/views.sql), paper_fig3.csv.
fig_w = 6.4; fig_h = 4.6
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_fig3') <= 0) {
    eval nodata('Fig. 3: readout comparison (direct training on 4-S)', 'plot_fig3', 'no run of experiment fig3 has finished')
    exit
}
V = 'plot_fig3'; S = 'plot_fig3_series'; P = 'paper_fig3'
panel = 0; paper_panel = ''; paper_style = '3597'
top_label = '# images per scan'
panel_title = 'Fig. 3: readout comparison, direct training on 4-S'
paper_key = 'paper (3,597 neurons)'
key_pos = 'top left Left reverse'
load gpdir . '/curves.gp'
