# Chart of bench/compare.sh's medians: ferry against raw TCP, OpenSSH and rsync on loopback.
#
#   gnuplot -e "datafile='chart.dat'; outfile='out.png'; subtitle='...'; idlenote='...'" bench/chart.gnuplot
#
# datafile (written by bench/compare.sh, tab-separated, '-' = not measured) has four blocks, separated by two
# blank lines:
#   0  big file:       tool, upload MB/s, download MB/s
#   1  small files:    tool, put files/s, get files/s
#   2  exec latency:   what, ferry ms, ssh ms (whole commands, and a keystroke's echo on an open terminal)
#   3  concurrency:    what, MB/s
#   4  CPU per GiB:    tool, client CPU s/GiB, server CPU s/GiB (user + sys of each side's process tree)
if (!exists("datafile")) datafile = 'chart.dat'
if (!exists("outfile")) outfile = 'benchmarks-compare.png'
if (!exists("subtitle")) subtitle = ''
if (!exists("idlenote")) idlenote = ''

set terminal pngcairo size 1400,1500 font 'Liberation Sans,10' noenhanced
set output outfile
set datafile separator "\t"
set datafile missing "-"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb '#dddddd'
set key top right
set xtics nomirror rotate by -25 left
set ytics nomirror
set border 3
set yrange [0:*]

set multiplot layout 3,2 title "Ferry side by side (bench/compare.sh)\n".subtitle font ',12'

# Value labels over the bars: in a clustered histogram of 2 columns with gap 1, the bars of group i are centred at
# i - 1/6 and i + 1/6; a single-column histogram puts them at i.
set style textbox opaque noborder
L = 1.0 / 6
num(c) = valid(c) ? column(c) : NaN

# 1. Big file throughput: upload / download, MB/s (10^6 bytes/s).
set title 'Big file, MB/s (higher is better)'
set ylabel 'MB/s'
set yrange [0:*]
plot datafile index 0 using 2:xtic(1) title 'upload (put) / one way' lc rgb '#3b75af', \
     '' index 0 using 3 title 'download (get)' lc rgb '#ef8636', \
     '' index 0 using ($0 - L):(num(2)):(sprintf('%.0f', num(2))) with labels offset 0,0.6 font ',8' notitle, \
     '' index 0 using ($0 + L):(num(3)):(sprintf('%.0f', num(3))) with labels offset 0,0.6 font ',8' notitle

# 2. The tree of small files, files per second.
set title 'Tree of small files, files/s (higher is better)'
set ylabel 'files/s'
set key top left
plot datafile index 1 using 2:xtic(1) title 'put / upload' lc rgb '#3b75af', \
     '' index 1 using 3 title 'get / download' lc rgb '#ef8636', \
     '' index 1 using ($0 - L):(num(2)):(sprintf('%.0f', num(2))) with labels offset 0,0.6 font ',8' notitle, \
     '' index 1 using ($0 + L):(num(3)):(sprintf('%.0f', num(3))) with labels offset 0,0.6 font ',8' notitle
set key top right

# 3. Exec latency of `true`, and the echo of a keystroke on an open terminal, ms, log scale.
set title 'Remote commands: run `true`, ms per command; echo of a keystroke on a terminal, ms (lower is better, log scale)'
set ylabel 'ms'
set logscale y
set yrange [*:*]
set xtics norotate
set key top left
plot datafile index 2 using 2:xtic(1) title 'ferry' lc rgb '#3b75af', \
     '' index 2 using 3 title 'ssh' lc rgb '#8c8c8c', \
     '' index 2 using ($0 - L):(num(2)):(sprintf('%.3g', num(2))) with labels offset 0,0.6 font ',8' notitle, \
     '' index 2 using ($0 + L):(num(3)):(sprintf('%.3g', num(3))) with labels offset 0,0.6 font ',8' notitle
set key top right
unset logscale y
set yrange [0:*]

# 4. Many clients at once against one stream.
set title 'Concurrent uploads, aggregate MB/s (higher is better)'
set ylabel 'MB/s'
set label 1 idlenote at graph 0.02, graph 0.97 left font ',10'
set xtics rotate by -15 left
set offsets 0, 0, graph 0.12, 0
plot datafile index 3 using 2:xtic(1) notitle lc rgb '#3b75af', \
     '' index 3 using 0:(num(2)):(sprintf('%.0f', num(2))) with labels offset 0,0.6 font ',8' notitle
unset label 1
set offsets 0, 0, 0, 0

# 5. CPU cost of the big file: seconds of CPU (user + sys) per GiB on each side.
set title 'Big file, CPU seconds per GiB, client and server side (lower is better)'
set ylabel 'CPU s/GiB'
set xtics rotate by -30 left font ',8'
set key top left
plot datafile index 4 using 2:xtic(1) title 'client' lc rgb '#3b75af', \
     '' index 4 using 3 title 'server' lc rgb '#ef8636', \
     '' index 4 using ($0 - L):(num(2)):(sprintf('%.2f', num(2))) with labels offset 0,0.6 font ',7' notitle, \
     '' index 4 using ($0 + L):(num(3)):(sprintf('%.2f', num(3))) with labels offset 0,0.6 font ',7' notitle

unset multiplot
