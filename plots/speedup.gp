# speedup.gp: speedup over the baseline (time_baseline / time, same shape and thread count) as clustered
# bars, one cluster per shape, one bar per variant; peers pale. Log scale, bars grow from 1x: up = faster
# than the baseline, down = slower, and 0.5x is as far from 1x as 2x.
# Extra variables: vars (bar order = data columns 2..), nshapes, baseline, maxlabel (longest shape label).
W = 300 + nshapes * (words(vars) + 1) * 12
W = W < 1000 ? 1000 : (W > 2400 ? 2400 : W)
load gpdir.'/common.gp'
set datafile missing '-'
set logscale y 10
set format y '%gx'
set ylabel sprintf('speedup over %s  [time(%s) / time]', baseline, baseline)
set xlabel 'shape'
set xtics rotate by 30 right scale 0 font ',10'
# the first slanted label reaches left of the axis: reserve room for it (character units)
set lmargin (maxlabel * 0.7 > 10 ? maxlabel * 0.7 : 10)
set grid noxtics nomxtics ytics mytics
pad = nshapes < 3 ? (3 - nshapes) / 2.0 + 0.6 : 0.6   # a lone cluster stays cluster-sized
set xrange [-pad:nshapes - 1 + pad]
set style fill solid border rgb '#333333'
n = words(vars)
bw = 0.8 / n
xc(i) = column(0) + (i - (n + 1) / 2.0) * bw      # bar i of the cluster in row column(0)
density(v) = ispeer(v) ? 0.35 : 0.9
file = datadir.'/'.stem.'.dat'
plot for [i=1:n] file using (xc(i)):(column(i + 1)):(xc(i) - bw / 2):(xc(i) + bw / 2):(1):(column(i + 1)) \
         with boxxyerror fs solid density(word(vars, i)) lc rgb vcol(word(vars, i)) title vtitle(word(vars, i)), \
     1 with lines lc rgb '#000000' dt 2 lw 1.5 title baseline.' = 1x', \
     file using 0:(1):xtic(1) with points lc rgb '#ffffffff' notitle   # invisible: only places the labels
eval to_svg
