-- ptvsd-dap for nvim-dap: debug Python apps that run the old ptvsd 2.x/3.x debugger
-- (Azure App Service, tcp, ws, wss).
--
-- Copy this file to ~/.config/nvim/lua/ptvsd-dap.lua and add `require('ptvsd-dap')` to
-- your init.lua (after nvim-dap is loaded), then edit the entries marked FILL IN.
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
}

-- Asks for the ptvsd secret each time, and percent-encodes it for a URL's user-info.
-- On App Service it is WSGI_PTVSD_SECRET in the web.debug.config deployed with the app.
local function secret()
  local text = vim.fn.inputsecret('ptvsd secret: ')
  return (text:gsub('[^%w%-%._~]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end

local configurations = {
  {
    type = 'ptvsd-dap',
    request = 'attach',
    name = 'ptvsd: attach to Azure App Service (Windows)',
    -- FILL IN: your site's name instead of mysite.
    url = function()
      return 'wss://' .. secret() .. '@mysite.azurewebsites.net/ptvsd'
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
    -- FILL IN: your site's name instead of mysite.
    url = function()
      return 'wss://' .. secret() .. '@mysite.azurewebsites.net/ptvsd'
    end,
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
    -- calling ptvsd.enable_attach(SECRET). FILL IN: host, port, and the folder the app
    -- runs from on that host.
    url = function()
      return 'tcp://' .. secret() .. '@127.0.0.1:5678'
    end,
    localRoot = '${workspaceFolder}',
    remoteRoot = '/srv/app',
  },
  {
    type = 'ptvsd-dap',
    request = 'launch',
    name = 'ptvsd: launch the current file',
    -- Runs `python3 -m ptvsd --wait ... FILE` here and attaches to it. FILL IN: another
    -- interpreter with ptvsd 2.x/3.x installed, e.g. a virtualenv's bin/python.
    program = '${file}',
    -- args = { '--verbose' },  (not `args = {}`: an empty table is sent as {}, not [])
    cwd = '${workspaceFolder}',
    python = 'python3',
  },
}

dap.configurations.python = dap.configurations.python or {}
vim.list_extend(dap.configurations.python, configurations)
