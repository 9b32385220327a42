// lavad's live event page: reads the /ws/ relay and lists the events, newest first.
// Plain JavaScript for current browsers; nothing is fetched from anywhere else.
(function () {
  "use strict";

  var params = new URLSearchParams(window.location.search);
  var limitNode = document.getElementById("limit");
  var limit = parseInt(params.get("limit"), 10);
  if (!(limit >= 1 && limit <= 10000)) {
    limit = parseInt(limitNode.dataset.default, 10) || 200;
  }
  limitNode.textContent = String(limit);

  var body = document.querySelector("#events tbody");
  var statusNode = document.getElementById("status");
  var jobInput = document.getElementById("job-filter");
  var topicBoxes = document.querySelectorAll("#filters input[name=topic]");
  var received = 0;
  var retryDelay = 1000;
  var MAX_RETRY_DELAY = 30000;

  if (params.get("job")) {
    jobInput.value = params.get("job");
  }

  function setStatus(state, text) {
    statusNode.dataset.state = state;
    statusNode.textContent = text;
  }

  // -- what one event says -----------------------------------------------------------------
  function show(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function summary(kind, data) {
    var parts = [];
    if (kind === "event") {
      return "message: " + show(data.message);
    }
    if (data.state !== undefined) {
      parts.push(show(data.state));
    }
    if (data.health !== undefined) {
      parts.push(show(data.health));
    }
    var text = parts.join(", ");
    if (kind === "testjob" && data.description) {
      text += " (" + show(data.description) + ")";
    }
    return text;
  }

  function objectName(kind, data) {
    if (kind === "device" || kind === "testjob") {
      return show(data.device);
    }
    if (kind === "worker") {
      return show(data.hostname);
    }
    return "";
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  // -- filters -----------------------------------------------------------------------------
  function wantedTopics() {
    var wanted = {};
    topicBoxes.forEach(function (box) {
      wanted[box.value] = box.checked;
    });
    return wanted;
  }

  function matches(row, wanted, job) {
    if (!wanted[row.dataset.topic]) {
      return false;
    }
    return job === "" || row.dataset.job === job || row.dataset.subId === job;
  }

  function updateCounts() {
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if (!row.hidden) {
        shown += 1;
      }
    });
    document.getElementById("shown").textContent = String(shown);
    document.getElementById("kept").textContent = String(body.rows.length);
    document.getElementById("received").textContent = String(received);
  }

  function applyFilters() {
    var wanted = wantedTopics();
    var job = jobInput.value.trim();
    Array.prototype.forEach.call(body.rows, function (row) {
      row.hidden = !matches(row, wanted, job);
    });
    updateCounts();
  }

  // -- the list ----------------------------------------------------------------------------
  function addEvent(topic, when, username, data) {
    var kind = topic.slice(topic.lastIndexOf(".") + 1);
    var row = document.createElement("tr");
    row.className = "event-" + kind;
    row.dataset.topic = kind;
    row.dataset.job = show(data.job);
    row.dataset.subId = show(data.sub_id);
    row.dataset.state = show(data.state);
    row.dataset.health = show(data.health);
    row.dataset.message = show(data.message);
    cell(row, show(when).replace("T", " ").replace(/\+00:00$/, ""));
    cell(row, kind).title = topic;
    cell(row, show(username));
    var jobCell = cell(row, "");
    if (row.dataset.job !== "") {
      var link = document.createElement("a");
      link.href = "../scheduler/job/" + encodeURIComponent(row.dataset.job);
      link.textContent = row.dataset.job;
      jobCell.appendChild(link);
    }
    cell(row, objectName(kind, data));
    cell(row, summary(kind, data));
    row.hidden = !matches(row, wantedTopics(), jobInput.value.trim());
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > limit) {
      body.deleteRow(body.rows.length - 1);
    }
    received += 1;
    updateCounts();
  }

  function receive(text) {
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (error) {
      return;
    }
    if (!Array.isArray(frame)) {
      if (frame && frame.error) {
        setStatus("error", "The server refused the connection: " + frame.error);
      }
      return;
    }
    if (frame.length !== 5) {
      return;
    }
    var data;
    try {
      data = JSON.parse(frame[4]);
    } catch (error) {
      data = {};
    }
    addEvent(show(frame[0]), frame[2], frame[3], data && typeof data === "object" ? data : {});
  }

  // -- the connection ----------------------------------------------------------------------
  function connect() {
    var url = new URL("../ws/", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    setStatus("connecting", "Connecting to " + url.href + "\u2026");
    var socket = new WebSocket(url.href);
    socket.onopen = function () {
      retryDelay = 1000;
      setStatus("open", "Connected: events appear here as they happen.");
    };
    socket.onmessage = function (message) {
      if (typeof message.data === "string") {
        receive(message.data);
      }
    };
    socket.onclose = function () {
      var prefix = statusNode.dataset.state === "error" ? statusNode.textContent + " " : "";
      setStatus(statusNode.dataset.state === "error" ? "error" : "closed",
                prefix + "Disconnected; trying again in " + retryDelay / 1000 + " s.");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, MAX_RETRY_DELAY);
    };
  }

  topicBoxes.forEach(function (box) {
    box.addEventListener("change", applyFilters);
  });
  jobInput.addEventListener("input", applyFilters);
  document.getElementById("filters").addEventListener("submit", function (event) {
    event.preventDefault();
  });
  document.getElementById("clear").addEventListener("click", function () {
    while (body.rows.length) {
      body.deleteRow(0);
    }
    updateCounts();
  });
  updateCounts();
  connect();
}());
