"""The spec's captured documents for the worked example (rest-api.md 5.5), as expected text."""

from __future__ import annotations

JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites disabled="0" errors="0" failures="2" tests="6" time="1.23">
\t<testsuite disabled="0" errors="0" failures="1" name="lava" skipped="0" tests="2" time="1.23" timestamp="2026-07-01T12:03:00.123456+00:00">
\t\t<testcase name="job" timestamp="2026-07-01T12:00:00.123456+00:00" classname="lava">
\t\t\t<failure type="failure" message="failed"/>
\t\t</testcase>
\t\t<testcase name="validate" time="1.230000" timestamp="2026-07-01T12:00:00.123456+00:00" classname="lava"/>
\t</testsuite>
\t<testsuite disabled="0" errors="0" failures="1" name="0_smoke" skipped="1" tests="4" time="0" timestamp="2026-07-01T12:03:00.123456+00:00">
\t\t<testcase name="c1" timestamp="2026-07-01T12:00:00.123456+00:00" classname="0_smoke"/>
\t\t<testcase name="c2" timestamp="2026-07-01T12:00:00.123456+00:00" classname="0_smoke">
\t\t\t<failure type="failure" message="failed">- {&quot;dt&quot;: &quot;2018-10-03T16:28:28.200807&quot;, &quot;lvl&quot;: &quot;info&quot;, &quot;msg&quot;: &quot;line1&quot;}
- {&quot;dt&quot;: &quot;2018-10-03T16:28:29.200807&quot;, &quot;lvl&quot;: &quot;results&quot;, &quot;msg&quot;: {&quot;case&quot;: &quot;c2&quot;, &quot;result&quot;: &quot;fail&quot;}}
</failure>
\t\t</testcase>
\t\t<testcase name="c3" timestamp="2026-07-01T12:00:00.123456+00:00" classname="0_smoke">
\t\t\t<skipped type="skipped" message="skipped"/>
\t\t</testcase>
\t\t<testcase name="c4" timestamp="2026-07-01T12:00:00.123456+00:00" classname="0_smoke"/>
\t</testsuite>
</testsuites>
"""

TAP13 = """\
TAP version 13
1..6
# TAP results for lava
not ok 1 job
ok 2 validate
# TAP results for 0_smoke
ok 3 c1
not ok 4 c2
 ---
 - {"dt": "2018-10-03T16:28:28.200807", "lvl": "info", "msg": "line1"}
 - {"dt": "2018-10-03T16:28:29.200807", "lvl": "results", "msg": {"case": "c2", "result": "fail"}}
 ...
ok 5 c3 # SKIP test skipped
not ok 6 c4 # TODO unknown result
"""

CSV_HEADER = ('"job","suite","result","measurement","unit","duration","timeout","logged",'
              '"level","metadata","url","name","id","log_start_line","log_end_line"\r\n')
CSV_ROWS = [
    ('"1","lava","fail","None","","","","2026-07-01 12:00:00.123456+00:00","","{\'case\': '
     '\'job\', \'definition\': \'lava\', \'error_msg\': \'boom\', \'error_type\': '
     '\'Infrastructure\', \'result\': \'fail\'}","/results/testcase/1","job","1","",""\r\n'),
    ('"1","lava","pass","None","","","","2026-07-01 12:00:00.123456+00:00","1","{\'case\': '
     '\'validate\', \'definition\': \'lava\', \'duration\': \'1.23\', \'level\': \'1\', '
     '\'result\': \'pass\'}","/results/testcase/2","validate","2","",""\r\n'),
    ('"1","0_smoke","pass","12.5000000000","ms","","","2026-07-01 12:00:00.123456+00:00","3.1",'
     '"{\'case\': \'c1\', \'definition\': \'0_smoke\', \'result\': \'pass\', \'measurement\': '
     '12.5, \'units\': \'ms\', \'level\': 3.1}","/results/testcase/3","c1","3","1","2"\r\n'),
    ('"1","0_smoke","fail","None","","","","2026-07-01 12:00:00.123456+00:00","","{\'case\': '
     '\'c2\', \'definition\': \'0_smoke\', \'result\': \'fail\'}","/results/testcase/4","c2",'
     '"4","1","3"\r\n'),
    ('"1","0_smoke","skip","None","","","","2026-07-01 12:00:00.123456+00:00","","{}",'
     '"/results/testcase/5","c3","5","",""\r\n'),
    ('"1","0_smoke","unknown","None","","","","2026-07-01 12:00:00.123456+00:00","","{}",'
     '"/results/testcase/6","c4","6","",""\r\n'),
]
CSV = CSV_HEADER + "".join(CSV_ROWS)

YAML_ITEMS = [
    """\
- name: job
  job: '1'
  suite: lava
  result: fail
  measurement: None
  unit: ''
  level: ''
  url: /results/testcase/1
  id: '1'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: ''
  log_end_line: ''
  metadata:
    case: job
    definition: lava
    error_msg: boom
    error_type: Infrastructure
    result: fail
""", """\
- name: validate
  job: '1'
  suite: lava
  result: pass
  measurement: None
  unit: ''
  level: '1'
  url: /results/testcase/2
  id: '2'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: ''
  log_end_line: ''
  metadata:
    case: validate
    definition: lava
    duration: '1.23'
    level: '1'
    result: pass
""", """\
- name: c1
  job: '1'
  suite: 0_smoke
  result: pass
  measurement: '12.5000000000'
  unit: ms
  level: 3.1
  url: /results/testcase/3
  id: '3'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: '1'
  log_end_line: '2'
  metadata:
    case: c1
    definition: 0_smoke
    result: pass
    measurement: 12.5
    units: ms
    level: 3.1
""", """\
- name: c2
  job: '1'
  suite: 0_smoke
  result: fail
  measurement: None
  unit: ''
  level: ''
  url: /results/testcase/4
  id: '4'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: '1'
  log_end_line: '3'
  metadata:
    case: c2
    definition: 0_smoke
    result: fail
""", """\
- name: c3
  job: '1'
  suite: 0_smoke
  result: skip
  measurement: None
  unit: ''
  level: ''
  url: /results/testcase/5
  id: '5'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: ''
  log_end_line: ''
  metadata: {}
""", """\
- name: c4
  job: '1'
  suite: 0_smoke
  result: unknown
  measurement: None
  unit: ''
  level: ''
  url: /results/testcase/6
  id: '6'
  logged: '2026-07-01 12:00:00.123456+00:00'
  log_start_line: ''
  log_end_line: ''
  metadata: {}
"""]
YAML = "".join(YAML_ITEMS)

SUMMARY = """\
- name: 0_smoke
  job: '1'
  id: '2'
- name: lava
  job: '1'
  id: '1'
"""
