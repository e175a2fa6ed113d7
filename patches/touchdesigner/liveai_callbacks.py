"""TouchDesigner OSC In DAT callbacks for liveai (put this in the Callbacks DAT of an OSC In DAT
listening on port 9001; see README.md). Keeps a Table DAT named liveai_state up to date and asks
liveai for feedback on start. Only int, float and string arguments are ever sent by liveai."""

STATE = 'liveai_state'      # a Table DAT beside the OSC In DAT
OSC_OUT = 'oscout1'         # an OSC Out DAT to 127.0.0.1:9000
REPLY_PORT = 9001           # this OSC In DAT's port: where liveai should answer
PARTS = ('bass', 'tenor', 'alto', 'melody')


def _set(name, *values):
	table = op(STATE)
	if table is None:
		return
	row = [name] + [str(v) for v in values]
	if table.row(name) is None:
		table.appendRow(row)
	else:
		for i, v in enumerate(row):
			table[name, i] = v


def onStart():
	out = op(OSC_OUT)
	if out is not None:
		out.sendOSC('/liveai/listen', [REPLY_PORT])
	return


def onReceiveOSC(dat, rowIndex, message, bytes, timeStamp, address, args, peer):
	parts = address.strip('/').split('/')
	if len(parts) == 3 and parts[0] == 'liveai' and parts[1] in PARTS and parts[2] == 'note':
		_set(parts[1], *args)                  # pitch, velocity (0: note-off)
	elif address == '/liveai/position':
		_set('bar', args[0])
		_set('beat', args[1])
	elif address in ('/liveai/tempo', '/liveai/mode', '/liveai/key', '/liveai/chord', '/liveai/transport',
			'/liveai/density', '/liveai/energy'):
		_set(parts[-1], *args)
	elif address == '/liveai/error':
		print('liveai error:', args[0])
	elif address == '/liveai/pong':
		print('liveai is there')
	return
