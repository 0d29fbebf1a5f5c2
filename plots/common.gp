# common.gp: what every matbench plot shares. Loaded first by each script; plots.sh passes (gnuplot -e)
# datadir, outdir, gpdir, stem, title, variants (all variants of the run: fixes each one's colour) and
# peers (library baselines: drawn dashed / pale).
set encoding utf8
W = exists("W") ? W : 1100
H = exists("H") ? H : 640
# noenhanced: names such as gemm_t must not turn into subscripts
png_term = sprintf("set terminal pngcairo size %d,%d font 'Sans,11' noenhanced linewidth 1.2", W, H)
svg_term = sprintf("set terminal svg size %d,%d font 'Sans,11' noenhanced dynamic background '#ffffff'", W, H)
# render: the plot command has been issued to PNG; write the same plot as SVG
to_svg = "eval svg_term; set output outdir.'/'.stem.'.svg'; replot; unset output"
eval png_term
set output outdir.'/'.stem.'.png'

set title title font ',13'
set grid xtics ytics mxtics mytics lc rgb '#e4e4e4' lw 1, lc rgb '#f2f2f2' lw 1
set border 3 lc rgb '#444444'
set tics nomirror out
set key outside right top vertical Left reverse samplen 3 spacing 1.15 box lc rgb '#cccccc'

# colour-blind-safe palette (Okabe-Ito, then Tol); a variant keeps its colour in every plot
palette_ = "#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #882255 #999933 #44AA99 #AA4499 #661100"
points_ = "7 5 9 11 13 15"
# position of word w in the space-separated list l (words before it + 1); 0 when absent
windex(l, w) = strstrt(' '.l.' ', ' '.w.' ') ? words(substr(' '.l.' ', 1, strstrt(' '.l.' ', ' '.w.' '))) + 1 : 0
vidx(v) = windex(variants, v)
vcol(v) = word(palette_, (vidx(v) - 1) % words(palette_) + 1)
vpt(v) = int(word(points_, (vidx(v) - 1) % words(points_) + 1))
ispeer(v) = windex(peers, v) > 0
vtitle(v) = ispeer(v) ? v.' (peer)' : v
vdt(v) = ispeer(v) ? 2 : 1
