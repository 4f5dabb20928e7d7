-- src/exp/sql/reference.sql - the paper's digitised values (docs/paper.md §0, §7; approximate,
-- ranges as midpoints), written into paper_values and paper_headline whenever the store's schema is
-- created or upgraded. Built into libnsid (cmake/embed_sql.cmake; rules in views.sql's head).

DELETE FROM paper_values;

INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES
    ('fig3','','Gaussian w/ f-s','3597',200,0.195), ('fig3','','Gaussian w/ f-s','3597',800,0.45),
    ('fig3','','Gaussian w/ f-s','3597',2000,0.62), ('fig3','','Gaussian w/ f-s','3597',4000,0.72),
    ('fig3','','Gaussian w/ f-s','3597',10000,0.83), ('fig3','','Gaussian w/ f-s','3597',17596,0.88),
    ('fig3','','Factorized w/o f-s','3597',200,0.1), ('fig3','','Factorized w/o f-s','3597',800,0.245),
    ('fig3','','Factorized w/o f-s','3597',2000,0.43), ('fig3','','Factorized w/o f-s','3597',4000,0.56),
    ('fig3','','Factorized w/o f-s','3597',10000,0.73), ('fig3','','Factorized w/o f-s','3597',17596,0.825),
    ('fig3','','Factorized w/o f-s','50',2000,0.40), ('fig3','','Factorized w/o f-s','50',4000,0.50),
    ('fig3','','Factorized w/o f-s','50',10000,0.69), ('fig3','','Factorized w/o f-s','50',17596,0.77),
    ('fig3','','Factorized w/ f-s','500',800,0.24), ('fig3','','Factorized w/ f-s','500',2000,0.35),
    ('fig3','','Factorized w/ f-s','500',4000,0.46), ('fig3','','Factorized w/ f-s','500',10000,0.60),
    ('fig3','','Factorized w/ f-s','500',17596,0.69);

INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES
    ('fig3_ablation','','cortex + f-s','3597',800,0.465), ('fig3_ablation','','cortex + f-s','3597',2000,0.635),
    ('fig3_ablation','','cortex + f-s','3597',4000,0.74), ('fig3_ablation','','cortex + f-s','3597',17596,0.885),
    ('fig3_ablation','','no-cortex + f-s','3597',800,0.27),
    ('fig3_ablation','','no-cortex + f-s','3597',2000,0.57),
    ('fig3_ablation','','no-cortex + f-s','3597',4000,0.695),
    ('fig3_ablation','','no-cortex + f-s','3597',17596,0.88),
    ('fig3_ablation','','cortex, no f-s','3597',800,0.26), ('fig3_ablation','','cortex, no f-s','3597',2000,0.42),
    ('fig3_ablation','','cortex, no f-s','3597',4000,0.61), ('fig3_ablation','','cortex, no f-s','3597',17596,0.85),
    ('fig3_ablation','','neither','3597',800,0.265), ('fig3_ablation','','neither','3597',2000,0.365),
    ('fig3_ablation','','neither','3597',4000,0.56), ('fig3_ablation','','neither','3597',17596,0.85);

INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES
    ('fig4','factorized','direct','',200,0.10), ('fig4','factorized','direct','',800,0.22),
    ('fig4','factorized','direct','',2000,0.43), ('fig4','factorized','direct','',4000,0.51),
    ('fig4','factorized','direct','',10000,0.665), ('fig4','factorized','direct','',17596,0.72),
    ('fig4','factorized','diff-core/best-readout','',200,0.30),
    ('fig4','factorized','diff-core/best-readout','',800,0.49),
    ('fig4','factorized','diff-core/best-readout','',2000,0.60),
    ('fig4','factorized','diff-core/best-readout','',4000,0.685),
    ('fig4','factorized','diff-core/best-readout','',10000,0.78),
    ('fig4','factorized','diff-core/best-readout','',17596,0.83),
    ('fig4','factorized','best-core/diff-readout','',200,0.27),
    ('fig4','factorized','best-core/diff-readout','',800,0.47),
    ('fig4','factorized','best-core/diff-readout','',2000,0.62),
    ('fig4','factorized','best-core/diff-readout','',4000,0.715),
    ('fig4','factorized','best-core/diff-readout','',10000,0.79),
    ('fig4','factorized','best-core/diff-readout','',17596,0.83),
    ('fig4','gaussian','direct','',200,0.15), ('fig4','gaussian','direct','',800,0.46),
    ('fig4','gaussian','direct','',2000,0.63), ('fig4','gaussian','direct','',4000,0.73),
    ('fig4','gaussian','direct','',10000,0.83), ('fig4','gaussian','direct','',17596,0.88),
    ('fig4','gaussian','diff-core/best-readout','',200,0.36),
    ('fig4','gaussian','diff-core/best-readout','',800,0.61),
    ('fig4','gaussian','diff-core/best-readout','',2000,0.71),
    ('fig4','gaussian','diff-core/best-readout','',4000,0.78),
    ('fig4','gaussian','diff-core/best-readout','',10000,0.85),
    ('fig4','gaussian','diff-core/best-readout','',17596,0.885),
    ('fig4','gaussian','best-core/diff-readout','',200,0.29),
    ('fig4','gaussian','best-core/diff-readout','',800,0.66),
    ('fig4','gaussian','best-core/diff-readout','',2000,0.79),
    ('fig4','gaussian','best-core/diff-readout','',4000,0.835),
    ('fig4','gaussian','best-core/diff-readout','',10000,0.87),
    ('fig4','gaussian','best-core/diff-readout','',17596,0.887);

INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES
    ('fig5','','direct','',50,0.07), ('fig5','','direct','',200,0.14), ('fig5','','direct','',500,0.29),
    ('fig5','','direct','',1000,0.48), ('fig5','','direct','',2500,0.67), ('fig5','','direct','',4472,0.75),
    ('fig5','','11-S','',50,0.24), ('fig5','','11-S','',200,0.40), ('fig5','','11-S','',500,0.59),
    ('fig5','','11-S','',1000,0.68), ('fig5','','11-S','',2500,0.785), ('fig5','','11-S','',4472,0.835),
    ('fig5','','11-S: no cortex','',50,0.146), ('fig5','','11-S: no cortex','',200,0.26),
    ('fig5','','11-S: no cortex','',500,0.45), ('fig5','','11-S: no cortex','',1000,0.60),
    ('fig5','','11-S: no cortex','',2500,0.75), ('fig5','','11-S: no cortex','',4472,0.83),
    ('fig5','','4-S: matched','',50,0.22), ('fig5','','4-S: matched','',200,0.39),
    ('fig5','','4-S: matched','',500,0.58), ('fig5','','4-S: matched','',1000,0.675),
    ('fig5','','4-S: matched','',2500,0.77), ('fig5','','4-S: matched','',4472,0.82),
    ('fig5','','4-S: diff animals','',50,0.24), ('fig5','','4-S: diff animals','',200,0.41),
    ('fig5','','4-S: diff animals','',500,0.58), ('fig5','','4-S: diff animals','',1000,0.67),
    ('fig5','','4-S: diff animals','',2500,0.76), ('fig5','','4-S: diff animals','',4472,0.81);

INSERT INTO paper_values (figure, panel, curve, style, x, value) VALUES
    ('fig5','','1-S','',50,0.20), ('fig5','','1-S','',200,0.36), ('fig5','','1-S','',500,0.49),
    ('fig5','','1-S','',1000,0.57), ('fig5','','1-S','',2500,0.65), ('fig5','','1-S','',4472,0.70),
    ('fig5','','VGG16','',50,0.10), ('fig5','','VGG16','',200,0.29), ('fig5','','VGG16','',500,0.39),
    ('fig5','','VGG16','',1000,0.50), ('fig5','','VGG16','',2500,0.59), ('fig5','','VGG16','',4472,0.63),
    ('fig5','','random VGG16','',50,0.06), ('fig5','','random VGG16','',200,0.275),
    ('fig5','','random VGG16','',500,0.355), ('fig5','','random VGG16','',1000,0.45),
    ('fig5','','random VGG16','',2500,0.54), ('fig5','','random VGG16','',4472,0.58),
    ('fig5','','random core 128','',50,0.05), ('fig5','','random core 128','',200,0.11),
    ('fig5','','random core 128','',500,0.26), ('fig5','','random core 128','',1000,0.32),
    ('fig5','','random core 128','',2500,0.39), ('fig5','','random core 128','',4472,0.44),
    ('fig5','','random core 64','',50,0.03), ('fig5','','random core 64','',200,0.10),
    ('fig5','','random core 64','',500,0.22), ('fig5','','random core 64','',1000,0.28),
    ('fig5','','random core 64','',2500,0.35), ('fig5','','random core 64','',4472,0.38);

INSERT OR REPLACE INTO paper_headline (name, value, source) VALUES
    ('gaussian_vs_factorized', 1.07, 'abstract: +7% over the previous state of the art (Fig. 3: 0.88 / 0.82)'),
    ('transfer_11s_vs_direct', 1.12, 'abstract: +12% (Fig. 5 at 4,472 images: 0.838 / 0.75)'),
    ('transfer_11s_vs_vgg16', 1.33, 'abstract: +33% (Fig. 5 at 4,472 images: 0.838 / 0.632)'),
    ('transfer_11s_vs_random_vgg16', 1.44, 'Fig. 5 at 4,472 images: 0.835 / 0.58 (digitised)'),
    ('images_fraction_11s_reaches_direct', 0.40, 'abstract: 40% of the data (Fig. 5: 1,800-2,000 of 4,472)'),
    ('params_per_neuron_gaussian', 69, 'docs/paper.md §2.6: 64 features + 4 covariance + 1 bias'),
    ('params_per_neuron_gaussian_shared', 6, 'docs/paper.md §2.6: 1 scale + 4 + 1 non-shared'),
    ('params_per_neuron_factorized', 1165, 'docs/paper.md §2.6: 22x50 mask + 64 features + 1 bias');
