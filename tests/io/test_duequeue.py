"""The sender process's queue: messages by due time; a step rewritten whole until it begins to go out."""
from liveai.io.duequeue import DueQueue


def test_messages_come_out_in_due_order_and_a_rewrite_replaces_the_whole_step():
    q = DueQueue()
    q.push(2.0, 7, [0x90, 60, 90])
    q.push(1.0, 0, [0xF8])
    q.push(2.0, 7, [0x90, 64, 90])
    assert q.replace({7: [(2.0, [0x90, 65, 90])]}) is True
    assert len(q) == 2
    assert q.due() == 1.0 and q.pop() == (1.0, [0xF8])
    assert q.pop() == (2.0, [0x90, 65, 90])
    assert q.due() is None


def test_a_step_that_began_to_go_out_is_not_rewritten_and_nothing_changes():
    q = DueQueue()
    q.push(1.0, 3, [0x80, 60, 0])
    q.push(1.0, 3, [0x90, 62, 90])
    q.push(1.5, 4, [0x90, 67, 90])
    q.pop()  # the first message of step 3 went out
    assert q.replace({3: [(1.0, [0x90, 63, 90])], 4: [(1.5, [0x90, 68, 90])]}) is False
    assert q.remaining() == [[0x90, 62, 90], [0x90, 67, 90]]  # all or nothing: step 4 kept too
    assert q.replace({4: [(1.5, [0x90, 68, 90]), (1.6, [0x80, 68, 0])]}) is True
    assert [q.pop()[1] for _ in range(3)] == [[0x90, 62, 90], [0x90, 68, 90], [0x80, 68, 0]]


def test_a_rewrite_may_empty_a_step_and_a_flush_drops_everything():
    q = DueQueue()
    q.push(1.0, 5, [0x90, 60, 90])
    assert q.replace({5: []}) is True and q.due() is None
    q.push(2.0, 6, [0x90, 61, 90])
    q.clear()
    assert q.due() is None and q.remaining() == []
    assert q.replace({6: []}) is True  # flushed, never sent: nothing stops a rewrite


def test_a_rewrite_that_comes_when_the_step_is_due_is_refused():
    q = DueQueue()
    q.push(1.0, 8, [0x90, 60, 90])
    assert q.replace({8: [(1.0, [0x90, 62, 90])]}, now=1.0) is False
    assert q.replace({9: [(1.0, [0x90, 62, 90])]}, now=1.5) is False  # a step that held nothing, late
    assert q.replace({8: [(1.0, [0x90, 62, 90])]}, now=0.99) is True
