-- Drives nvim-dap in a headless Neovim through one debug session, the way a user would
-- (breakpoint, pick a configuration, type the secret, look, step, continue, stop), and
-- writes what the user was shown to a JSON file for tests/editors.rs to check.
--
-- Loaded by the test's init.lua after nvim-dap and require('ptvsd-dap'); parameters come
-- from the JSON file named by $PTVSD_E2E_PARAMS:
--   scenario  "flow" (the whole session) or "fail" (an attach that fails)
--   config    the name of the ptvsd-dap configuration to run
--   secret    what to type at the secret prompt
--   file, line  where to set the breakpoint (the local copy)
--   result    where to write the transcript
local params = vim.json.decode(table.concat(vim.fn.readfile(os.getenv('PTVSD_E2E_PARAMS')), '\n'))
local dap = require('dap')

local out = { notes = {}, stops = {}, outputs = {}, steps = {} }
local stopped, ended = {}, false

-- What the user sees as notifications (nvim-dap's errors and warnings go through here).
vim.notify = function(msg, level)
  table.insert(out.notes, { msg = tostring(msg), level = level })
end
dap.listeners.after.event_stopped.e2e = function(_, body) table.insert(stopped, body) end
dap.listeners.after.event_output.e2e = function(_, body) table.insert(out.outputs, body) end
dap.listeners.after.event_terminated.e2e = function() ended = true end
dap.listeners.after.disconnect.e2e = function() ended = true end

local function finish()
  vim.fn.writefile({ vim.json.encode(out) }, params.result)
  vim.cmd('qa!')
end

local function wait(what, ms, done)
  if not vim.wait(ms, done, 20) then
    error('timed out waiting for ' .. what, 0)
  end
end

-- A request answered synchronously (the callback sets a flag vim.wait watches).
local function request(session, command, arguments)
  local done, err, result = false, nil, nil
  session:request(command, arguments, function(e, r) done, err, result = true, e, r end)
  wait(command .. ' response', 20000, function() return done end)
  if err then
    error(command .. ' failed: ' .. tostring(err.message or vim.inspect(err)), 0)
  end
  return result
end

local function config_named(name)
  for _, c in ipairs(dap.configurations.python) do
    if c.name == name then return c end
  end
  error('no configuration named ' .. name, 0)
end

-- The n-th stop: the top frame of the stopped thread's stack, as the user is shown it.
local function wait_stop(n)
  wait('stop ' .. n, 30000, function() return #stopped >= n end)
  local session = dap.session()
  local thread = stopped[n].threadId
  local frame = request(session, 'stackTrace', { threadId = thread }).stackFrames[1]
  local stop = { reason = stopped[n].reason, path = frame.source and frame.source.path, line = frame.line, name = frame.name }
  table.insert(out.stops, stop)
  return session, frame, thread
end

local function start()
  -- The secret prompt (vim.fn.inputsecret) reads what is typed next.
  vim.api.nvim_input(params.secret .. '<CR>')
  dap.run(config_named(params.config))
end

local function flow()
  vim.cmd.edit(vim.fn.fnameescape(params.file))
  vim.api.nvim_win_set_cursor(0, { params.line, 0 })
  dap.set_breakpoint()
  start()

  local session, frame, thread = wait_stop(1)
  -- The breakpoint's sign: verified (the adapter answers setBreakpoints during the attach
  -- unverified and verifies it with a `breakpoint` event once ptvsd has bound it).
  out.breakpoints_verified = {}
  for _, bps in pairs(require('dap.breakpoints').get()) do
    for _, bp in ipairs(bps) do table.insert(out.breakpoints_verified, bp.state ~= nil and bp.state.verified == true) end
  end
  -- VARIABLES: the first scope's variables.
  local scopes = request(session, 'scopes', { frameId = frame.id }).scopes
  local vars = request(session, 'variables', { variablesReference = scopes[1].variablesReference }).variables
  out.variables = {}
  for _, v in ipairs(vars) do out.variables[v.name] = v.value end
  -- CALL STACK
  local trace = request(session, 'stackTrace', { threadId = thread }).stackFrames
  out.call_stack = {}
  for _, f in ipairs(trace) do table.insert(out.call_stack, f.name) end
  -- A watch.
  out.watch = request(session, 'evaluate', { expression = "info['label']", frameId = frame.id, context = 'watch' }).result

  dap.step_over()
  session, frame = wait_stop(2)
  out.after_step = request(session, 'evaluate', { expression = 'total', frameId = frame.id, context = 'repl' }).result

  dap.continue()
  wait_stop(3)

  -- Stop: end the session leaving the app running.
  ended = false
  dap.disconnect({ terminateDebuggee = false })
  wait('the end of the session', 10000, function() return ended and dap.session() == nil end)
  out.ended = true
end

local function fail()
  start()
  wait('an error notification', 60000, function()
    for _, n in ipairs(out.notes) do
      if n.level == vim.log.levels.ERROR then return true end
    end
    return false
  end)
  wait('the end of the session', 10000, function() return dap.session() == nil end)
  out.ended = true
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = pcall(params.scenario == 'fail' and fail or flow)
      if not ok then out.error = tostring(err) end
      finish()
    end)
  end,
})
