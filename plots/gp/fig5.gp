# fig5.gp - Fig. 5 (docs/paper.md §7.5): transfer to a new animal. Fraction oracle on the evaluation
# scan vs its # training images: direct training against frozen cores (only the Gaussian
# readout trains); the paper's digitised curves (paper_fig5.csv) faint in the same colours.
# Data: plot_fig5, plot_fig5_series (plots/views.sql), paper_fig5.csv.
fig_w = 8.0; fig_h = 4.8
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_fig5') <= 0) {
    eval nodata('Fig. 5: transfer to a new animal', 'plot_fig5', 'no run of experiment fig5 has finished')
    exit
}
V = 'plot_fig5'; S = 'plot_fig5_series'; P = 'paper_fig5'
panel = 0; paper_panel = ''; paper_style = ''
top_label = ''
panel_title = 'Fig. 5: transfer to a new animal (evaluation scan)'
paper_key = 'paper (digitised)'
key_pos = 'outside right top Left reverse'
load gpdir . '/curves.gp'
