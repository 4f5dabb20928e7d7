# fig3_ablation.gp - the cortex x feature-sharing ablation of the Gaussian readout (docs/paper.md
# 7.6): direct training on 4-S with/without cortical coordinates and feature sharing.
# Data: plot_fig3_ablation, plot_fig3_ablation_series (plots/views.sql), paper_fig3_ablation.csv.
fig_w = 6.4; fig_h = 4.6
load gpdir . '/style.gp'
eval begin_figure
if (rows('plot_fig3_ablation') <= 0) {
    eval nodata('Fig. 3 ablation: cortex × feature sharing', 'plot_fig3_ablation', 'no run of experiment fig3_ablation has finished')
    exit
}
V = 'plot_fig3_ablation'; S = 'plot_fig3_ablation_series'; P = 'paper_fig3_ablation'
panel = 0; paper_panel = ''; paper_style = ''
top_label = '# images per scan'
panel_title = 'Gaussian readout: cortex coordinates × feature sharing (4-S)'
paper_key = 'paper (3,597 neurons)'
key_pos = 'top left Left reverse'
load gpdir . '/curves.gp'
