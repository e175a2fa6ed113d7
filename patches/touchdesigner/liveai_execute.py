"""TouchDesigner Execute DAT callbacks for liveai: subscribe to feedback, and keep subscribed.

Put this in an Execute DAT beside the OSC In DAT (README.md) with Start, Create and Frame Start
on. liveai forgets its listeners when it restarts, and the OSC In DAT has no start callback, so
this asks for everything (/liveai/listen, answered to REPLY_PORT) when the project starts or the
DAT is created, then again every RESUBSCRIBE_SECONDS, and asks /liveai/status now and then so the
state table fills at once. Listening again is harmless: liveai keeps one entry per address."""

OSC_OUT = 'oscout1'          # an OSC Out DAT to 127.0.0.1:9000
REPLY_PORT = 9001            # the OSC In DAT's port: where liveai should answer
RESUBSCRIBE_SECONDS = 3.0

_last = [None]               # time of the last subscription (seconds), kept between frames


def _now():
	return absTime.seconds


def subscribe():
	out = op(OSC_OUT)
	if out is None:
		return False
	out.sendOSC('/liveai/listen', [REPLY_PORT])
	out.sendOSC('/liveai/status', [REPLY_PORT])
	_last[0] = _now()
	return True


def onStart():
	subscribe()
	return


def onCreate():
	subscribe()
	return


def onFrameStart(frame):
	if _last[0] is None or _now() - _last[0] >= RESUBSCRIBE_SECONDS:
		subscribe()
	return
