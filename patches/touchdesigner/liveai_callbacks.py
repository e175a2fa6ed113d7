"""TouchDesigner OSC In DAT callbacks for liveai (put this in the Callbacks DAT of an OSC In DAT
listening on port 9001; see README.md). Keeps a Table DAT named liveai_state up to date. Only
int, float and string arguments are ever sent by liveai.

The OSC In DAT calls only onReceiveOSC: it has no onStart. Subscribing to feedback is done by
liveai_execute.py in an Execute DAT (its onStart, onCreate and onFrameStart callbacks do run), which
also re-subscribes every few seconds, so feedback comes back by itself after liveai restarts."""

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


STATUS_FIELDS = ('running', 'bar', 'beat', 'tempo', 'mode', 'key', 'chord')


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
	elif address == '/liveai/status/reply':    # running, bar, beat, tempo, mode, key, chord
		for name, value in zip(STATUS_FIELDS, args):
			_set(name, value)
	elif len(parts) == 3 and parts[1] in PARTS and parts[2] in ('channel', 'program', 'mute', 'volume', 'octave'):
		_set(parts[1] + '_' + parts[2], *args)
	elif address == '/liveai/error':
		print('liveai error:', args[0])
	elif address == '/liveai/pong':
		print('liveai is there')
	return
