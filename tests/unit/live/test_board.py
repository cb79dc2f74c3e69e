"""The live bus (in-process) and the board: per-minute aggregation, the right-now tops, sequence gaps, isolation."""
from services.live.board import LiveBoard, live_view
from services.live.bus import MemoryBus

NOW = 1_800_000_000.0  # a fixed clock: minute 30_000_000
MINUTE = int(NOW // 60)


def _batch(minute: int, hits: int, episode: str = "Ep 1", app: str = "Apple Podcasts", country: str = "US",
           conversions: int = 0) -> dict:
    fields = {"hits": hits, f"e:{episode}": hits, f"a:{app}": hits, f"c:{country}": hits}
    if conversions:
        fields["conversions"] = conversions
    events = [{"t": minute * 60 + i, "kind": "hit", "episode": episode, "key": f"k{i}"} for i in range(hits)]
    return {"minutes": {minute: fields}, "recent": events}


def test_live_view_window_and_tops():
    minutes = {MINUTE: {"hits": 3, "e:A": 2, "e:B": 1, "a:Overcast": 3, "c:DE": 3},
               MINUTE - 4: {"hits": 5, "e:B": 5, "a:Spotify": 5, "c:US": 5, "conversions": 2},
               MINUTE - 5: {"hits": 7, "e:C": 7},  # in the hour, not "right now"
               MINUTE - 60: {"hits": 100}}  # outside the hour
    view = live_view(minutes, [{"t": 1}, {"t": 2}], NOW, top=1)
    assert len(view.minutes) == 60 and view.minutes[-1][1:] == (3, 0) and view.minutes[-5][1:] == (5, 2)
    assert sum(h for _, h, _ in view.minutes) == 15
    assert view.hits_now == 8 and view.episodes == [("B", 6)] and view.apps == [("Spotify", 5)]
    assert view.countries == [("US", 5)]
    assert view.recent == [{"t": 2}, {"t": 1}]  # newest first


def test_board_loads_the_snapshot_then_follows_messages():
    bus = MemoryBus(clock=lambda: NOW)
    bus.publish({1: _batch(MINUTE - 2, 4)})
    board = LiveBoard(bus, clock=lambda: NOW)
    assert board.view(1).minutes[-3][1] == 4  # a page load shows what came before it
    bus.publish({1: _batch(MINUTE, 2, episode="Ep 2")})
    view = board.view(1)
    assert view.minutes[-1][1] == 2 and view.hits_now == 6 and ("Ep 2", 2) in view.episodes
    assert len(view.recent) == 6


def test_recent_events_are_capped_at_twenty():
    bus = MemoryBus(clock=lambda: NOW)
    board = LiveBoard(bus, clock=lambda: NOW)
    board.view(1)
    for _ in range(5):
        bus.publish({1: _batch(MINUTE, 7)})
    view = board.view(1)
    assert view.hits_now == 35 and len(view.recent) == 20


def test_a_missed_message_reloads_the_snapshot():
    bus = MemoryBus(clock=lambda: NOW)
    board = LiveBoard(bus, clock=lambda: NOW)
    board.view(1)
    board._on_message(1, 5, _batch(MINUTE, 50))  # sequence 5 after 0: a gap, so not applied
    bus.publish({1: _batch(MINUTE, 3)})
    assert board.view(1).hits_now == 3  # reloaded from the bus's state, not 53


def test_a_lost_subscription_reloads_every_tenant():
    bus = MemoryBus(clock=lambda: NOW)
    board = LiveBoard(bus, clock=lambda: NOW)
    board.view(1)
    board._tenants[1].minutes.clear()  # as if messages were lost
    bus._handlers.clear()
    bus.publish({1: _batch(MINUTE, 3)})
    board._on_reset()
    assert board.view(1).hits_now == 3


def test_a_tenant_sees_only_its_own_hits():
    bus = MemoryBus(clock=lambda: NOW)
    board = LiveBoard(bus, clock=lambda: NOW)
    board.view(1), board.view(2)
    bus.publish({1: _batch(MINUTE, 4, episode="Mine"), 2: _batch(MINUTE, 9, episode="Theirs", country="FR")})
    mine, theirs = board.view(1), board.view(2)
    assert mine.hits_now == 4 and mine.episodes == [("Mine", 4)] and mine.countries == [("US", 4)]
    assert theirs.hits_now == 9 and theirs.episodes == [("Theirs", 9)]
    assert all(e["episode"] == "Mine" for e in mine.recent)
    assert board.view(3).hits_now == 0 and board.view(3).recent == []


def test_idle_tenants_are_dropped_and_old_minutes_expire():
    clock = [NOW]
    bus = MemoryBus(clock=lambda: clock[0])
    board = LiveBoard(bus, clock=lambda: clock[0])
    bus.publish({1: _batch(MINUTE, 4)})
    board.view(1), board.view(2)
    clock[0] = NOW + 61 * 60
    board.view(2)
    assert 1 not in board._tenants
    assert board.view(1).hits_now == 0 and sum(h for _, h, _ in board.view(1).minutes) == 0
