# SPDX-License-Identifier: GPL-3.0-or-later
# Extracts the i-quant grids of ggml-common.h into core/ggml/ggml_iq_grids.cpp and ggml_iq1_grid.cpp.
# usage: python3 gen_grids.py <ggml>/src/ggml-common.h core/ggml
import re, sys
src = open(sys.argv[1]).read()
def table(name):
    m = re.search(r'GGML_TABLE_BEGIN\((\w+), %s, (\w+)\)\n(.*?)GGML_TABLE_END\(\)' % name, src, re.S)
    typ, body = m.group(1), m.group(3)
    vals = [v.strip() for v in body.replace('\n', ' ').split(',') if v.strip()]
    return typ, vals
def emit(out, ctype, cname, vals, per, width):
    out.append('const %s %s[%d] = {' % (ctype, cname, len(vals)))
    for i in range(0, len(vals), per):
        out.append('    ' + ' '.join((v + ',').rjust(width) if width else v + ',' for v in vals[i:i+per]).rstrip())
    out.append('};')
    out.append('')
COMMIT = 'd99724f2b141fed9e1a9f402213506c081433465'
def header(what):
    return ['// SPDX-License-Identifier: GPL-3.0-or-later',
            '// %s' % what,
            '// Data, not code: the numbers are copied verbatim (extracted by script, not edited) from ggml-org/ggml',
            '// src/ggml-common.h at commit %s.' % COMMIT,
            '// Each uint64_t (uint32_t) entry packs 8 (4) grid values, value j in byte j counted from the least',
            '// significant byte, which is how ggml reads them on its little-endian hosts.',
            '#include "core/ggml/ggml_iq_grids.h"', '', 'namespace qs::ggml {', '']
out = header('Lookup grids of ggml\'s i-quants iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s and the sign tables.')
for name, cname in [('ksigns_iq2xs', 'kIq2xsSigns')]:
    t, v = table(name); emit(out, 'uint8_t', cname, v, 16, 4)
for name, cname, ct, per in [('iq2xxs_grid','kIq2xxsGrid','uint64_t',4), ('iq2xs_grid','kIq2xsGrid','uint64_t',4),
                  ('iq2s_grid','kIq2sGrid','uint64_t',4), ('iq3xxs_grid','kIq3xxsGrid','uint32_t',8),
                  ('iq3s_grid','kIq3sGrid','uint32_t',8)]:
    t, v = table(name); assert t == ct, (t, ct); emit(out, ct, cname, v, per, 0)
t, v = table('kvalues_fp4'); emit(out, 'int8_t', 'kFp4Values', v, 16, 0)
out.append('}  // namespace qs::ggml')
open(sys.argv[2] + '/ggml_iq_grids.cpp', 'w').write('\n'.join(out) + '\n')
out = header('Lookup grid of ggml\'s 1-bit i-quants iq1_s and iq1_m (values -1, 0, +1 as int8 bytes).')
t, v = table('iq1s_grid'); assert t == 'uint64_t'; emit(out, 'uint64_t', 'kIq1sGrid', v, 4, 0)
out.append('}  // namespace qs::ggml')
open(sys.argv[2] + '/ggml_iq1_grid.cpp', 'w').write('\n'.join(out) + '\n')
