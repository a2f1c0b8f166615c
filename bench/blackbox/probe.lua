-- Drives blackbox_exporter's /probe over the bench targets, stopping after a fixed number of probes.
-- Usage: wrk ... -s probe.lua URL -- TARGETS_FILE PROBES_PER_THREAD THREADS
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  targets = {}
  for line in io.lines(args[1]) do
    targets[#targets + 1] = line
  end
  limit = tonumber(args[2])
  stride = tonumber(args[3])
  position = id
  answered = 0
end

function request()
  local target = targets[(position % #targets) + 1]
  position = position + stride
  return wrk.format("GET", "/probe?module=http_2xx&target=" .. target)
end

function response(status, headers, body)
  answered = answered + 1
  if answered == limit then
    -- The bench sends wrk SIGINT once every thread has said this, so wrk ends without waiting out -d.
    io.write("WRK_THREAD_DONE\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    "WRK_RESULT requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d duration_us=%d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, summary.duration))
end
