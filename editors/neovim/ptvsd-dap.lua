-- ptvsd-dap for nvim-dap: debug Python apps that run the old ptvsd 2.x/3.x debugger
-- (Azure App Service, tcp, ws, wss).
--
-- Copy this file to ~/.config/nvim/lua/ptvsd-dap.lua and add `require('ptvsd-dap')` to
-- your init.lua (after nvim-dap is loaded). Nothing to edit: set what differs from the
-- defaults before the require (all optional):
--
--   vim.g.ptvsd_dap = {
--     site = 'mysite',              -- App Service: SITE.azurewebsites.net
--     address = '127.0.0.1:5678',   -- attach over TCP: HOST:PORT
--     remote_root = '/srv/app',     -- attach over TCP: the app's folder on that host
--     python = 'python3',           -- launch: an interpreter with ptvsd 2.x/3.x
--   }
--
-- Start with :DapNew (or require('dap').continue()) in a Python buffer and pick one.
--
-- nvim-dap sends the whole entry as the attach/launch arguments (`type`, `name` and
-- `request` included, which ptvsd-dap ignores), after calling the functions and expanding
-- ${workspaceFolder} and ${file}. Every key ptvsd-dap accepts: `ptvsd-dap schema`.
-- (`cargo test --test editor_configs` reads this file: keep each entry a plain table, and
-- functions of the form `function() return 'text' .. secret() .. 'text' end`.)
local dap = require('dap')

-- The adapter, spoken to over stdio. `cargo install --path .` in a ptvsd-dap checkout
-- puts it in ~/.cargo/bin; use the full path if that is not on Neovim's PATH.
dap.adapters['ptvsd-dap'] = {
  type = 'executable',
  command = 'ptvsd-dap',
  -- The attach answer can take as long as the adapter's connectTimeout (15 s) for the
  -- connection plus 15 s for a handshake step of a silent or cold-starting debuggee; its
  -- own sentence says why then. nvim-dap warns "Debug adapter didn't respond" after this
  -- many seconds without an answer (4 by default): keep it above 2 × connectTimeout.
  options = { initialize_timeout_sec = 35 },
}

-- Asks for the ptvsd secret each time, and percent-encodes it for a URL's user-info.
-- On App Service it is WSGI_PTVSD_SECRET in the web.debug.config deployed with the app.
local function secret()
  local text = vim.fn.inputsecret('ptvsd secret: ')
  return (text:gsub('[^%w%-%._~]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end

-- The secret as typed, for the `secret` key (not part of a URL).
local function plain_secret()
  return vim.fn.inputsecret('ptvsd secret: ')
end

-- The settings above, read when a session starts.
local function setting(name, default)
  local settings = vim.g.ptvsd_dap or {}
  return settings[name] or default
end
local function site()
  return setting('site', 'mysite')
end
local function address()
  return setting('address', '127.0.0.1:5678')
end
local function remote_root()
  return setting('remote_root', '/srv/app')
end
local function python()
  return setting('python', 'python3')
end

local configurations = {
  {
    type = 'ptvsd-dap',
    request = 'attach',
    name = 'ptvsd: attach to Azure App Service (Windows)',
    url = function()
      return 'wss://' .. secret() .. '@' .. site() .. '.azurewebsites.net/ptvsd'
    end,
    -- Attach again when App Service restarts the app (recycle, deploy, crash).
    reconnect = true,
    pathMappings = {
      { localRoot = '${workspaceFolder}', remoteRoot = 'D:\\home\\site\\wwwroot' },
    },
  },
  {
    type = 'ptvsd-dap',
    request = 'attach',
    name = 'ptvsd: attach to Azure App Service (Linux)',
    -- Kudu's tunnel on the SCM host, to ptvsd listening on 0.0.0.0:5678 in the container.
    -- The publishing credentials (userName / userPWD of the publish profile) come from
    -- PTVSD_DAP_TUNNEL_USER and PTVSD_DAP_TUNNEL_PASSWORD in Neovim's environment (or add
    -- tunnelUser / tunnelPassword here).
    url = function()
      return 'wss://' .. secret() .. '@' .. site() .. '.scm.azurewebsites.net/AppServiceTunnel/Tunnel.ashx'
    end,
    tunnelPort = 5678,
    -- Attach again when App Service restarts the app (recycle, deploy, crash).
    reconnect = true,
    pathMappings = {
      { localRoot = '${workspaceFolder}', remoteRoot = '/home/site/wwwroot' },
    },
  },
  {
    type = 'ptvsd-dap',
    request = 'attach',
    name = 'ptvsd: attach over TCP',
    -- For an app started with `python -m ptvsd --secret SECRET --port 5678 app.py`, or
    -- calling ptvsd.enable_attach(SECRET): vim.g.ptvsd_dap.address and .remote_root.
    url = function()
      return 'tcp://' .. secret() .. '@' .. address()
    end,
    localRoot = '${workspaceFolder}',
    remoteRoot = function()
      return remote_root()
    end,
  },
  {
    type = 'ptvsd-dap',
    request = 'attach',
    name = 'ptvsd: attach to every worker over TCP',
    -- A pre-forking server (gunicorn, uWSGI, FastCGI) with one ptvsd per worker, each on
    -- its own port: one session over all of them (edit the ports). nvim-dap resumes a
    -- worker that stops while another is stopped unless
    -- dap.defaults['ptvsd-dap'].auto_continue_if_many_stopped = false.
    host = '127.0.0.1',
    port = { 5678, 5679, 5680, 5681 },
    secret = function()
      return plain_secret()
    end,
    reconnect = true,
    localRoot = '${workspaceFolder}',
    remoteRoot = function()
      return remote_root()
    end,
  },
  {
    type = 'ptvsd-dap',
    request = 'launch',
    name = 'ptvsd: launch the current file',
    -- Runs `PYTHON -m ptvsd --wait ... FILE` here and attaches to it; PYTHON is
    -- vim.g.ptvsd_dap.python, e.g. a virtualenv's bin/python with ptvsd 2.x/3.x.
    program = '${file}',
    -- args = { '--verbose' },  (not `args = {}`: an empty table is sent as {}, not [])
    cwd = '${workspaceFolder}',
    python = function()
      return python()
    end,
  },
}

dap.configurations.python = dap.configurations.python or {}
vim.list_extend(dap.configurations.python, configurations)
