package test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Delay adds d of latency to every packet n sends or receives (loopback aside), as
// netem would on its link: a witness far away. The lab's kernel has no netem, so the
// packets go through an NFQUEUE (the xtables target, through nft's compat layer) and
// the lab gives each its verdict d after it arrived, in order. The returned function
// removes the delay; Close removes it anyway, with the namespace.
func (l *Lab) Delay(n *Node, d time.Duration) (undo func() error, err error) {
	ns, err := netns.GetFromName(n.NS)
	if err != nil {
		return nil, fmt.Errorf("lab: delay on %s: %w", n.Name, err)
	}
	defer ns.Close()
	q, err := openDelayQueue(int(ns), delayQueueNum, d)
	if err != nil {
		return nil, fmt.Errorf("lab: delay on %s: %w", n.Name, err)
	}
	nft, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		q.close()
		return nil, fmt.Errorf("lab: delay on %s: %w", n.Name, err)
	}
	table := nft.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "rvdelay"})
	policy := nftables.ChainPolicyAccept
	queue := make([]byte, 2)
	binary.NativeEndian.PutUint16(queue, delayQueueNum) // struct xt_NFQ_info { __u16 queuenum; }
	for _, hook := range []struct {
		name  string
		hook  *nftables.ChainHook
		iface expr.MetaKey
	}{{"in", nftables.ChainHookInput, expr.MetaKeyIIFNAME}, {"out", nftables.ChainHookOutput, expr.MetaKeyOIFNAME}} {
		chain := nft.AddChain(&nftables.Chain{Name: hook.name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: hook.hook, Priority: nftables.ChainPriorityFilter, Policy: &policy})
		nft.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Meta{Key: hook.iface, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname("lo")},
			&expr.Target{Name: "NFQUEUE", Rev: 0, Info: (*xt.Unknown)(&queue)},
		}})
	}
	if err := nft.Flush(); err != nil {
		q.close()
		return nil, fmt.Errorf("lab: delay on %s: nftables: %w", n.Name, err)
	}
	l.logf("%s: %v of delay on every packet in and out", n.Name, d)
	return func() error {
		ns, err := netns.GetFromName(n.NS)
		if err != nil {
			q.close()
			return err
		}
		defer ns.Close()
		nft, err := nftables.New(nftables.WithNetNSFd(int(ns)))
		if err == nil {
			nft.DelTable(table)
			err = nft.Flush()
		}
		q.close() // after the rules are gone: a queue without a reader drops
		l.logf("%s: delay removed", n.Name)
		return err
	}, nil
}

func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

// delayQueueNum is the NFQUEUE the lab's delay uses in a node's namespace.
const delayQueueNum = 7

// The nfnetlink_queue protocol, as far as the delay needs it (linux/netfilter/
// nfnetlink_queue.h).
const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2
	nfqaCfgCmd     = 1
	nfqaCfgParams  = 2
	nfqaCfgMask    = 4
	nfqaCfgFlags   = 5

	nfqnlCfgCmdBind  = 1
	nfqnlCopyMeta    = 1
	nfqaCfgFFailOpen = 1
	nfAccept         = 1
)

// delayQueue reads one NFQUEUE and accepts each packet d after it arrived.
type delayQueue struct {
	c    *netlink.Conn
	num  uint16
	d    time.Duration
	due  chan queued
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

type queued struct {
	id uint32
	at time.Time
}

func openDelayQueue(nsFD int, num uint16, d time.Duration) (*delayQueue, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFD})
	if err != nil {
		return nil, fmt.Errorf("nfqueue: %w", err)
	}
	_ = c.SetReadBuffer(4 << 20)
	q := &delayQueue{c: c, num: num, d: d, due: make(chan queued, 65536), done: make(chan struct{})}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0)
	params[4] = nfqnlCopyMeta
	flags := make([]byte, 4)
	binary.BigEndian.PutUint32(flags, nfqaCfgFFailOpen)
	for _, attrs := range [][]netlink.Attribute{
		{{Type: nfqaCfgCmd, Data: cmd}},
		{{Type: nfqaCfgParams, Data: params}, {Type: nfqaCfgFlags, Data: flags}, {Type: nfqaCfgMask, Data: flags}},
	} {
		if err := q.request(nfqnlMsgConfig, attrs, true); err != nil {
			c.Close()
			return nil, fmt.Errorf("nfqueue: configure queue %d: %w", num, err)
		}
	}
	q.wg.Add(2)
	go q.read()
	go q.release()
	return q, nil
}

// request sends one nfnetlink_queue message; with ack, it waits for the kernel's.
func (q *delayQueue) request(kind uint8, attrs []netlink.Attribute, ack bool) error {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return err
	}
	hdr := []byte{unix.AF_UNSPEC, 0 /* NFNETLINK_V0 */, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], q.num)
	m := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysQueue<<8 | int(kind)), Flags: netlink.Request},
		Data:   append(hdr, b...),
	}
	if !ack {
		_, err := q.c.Send(m)
		return err
	}
	m.Header.Flags |= netlink.Acknowledge
	_, err = q.c.Execute(m)
	return err
}

// read takes the packets the kernel queues and schedules their verdicts.
func (q *delayQueue) read() {
	defer q.wg.Done()
	for {
		msgs, err := q.c.Receive()
		if err != nil {
			select {
			case <-q.done:
			default:
				q.fail(fmt.Errorf("nfqueue: receive: %w", err))
			}
			return
		}
		now := time.Now()
		for _, m := range msgs {
			if int(m.Header.Type)&0xff != nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			ad, err := netlink.NewAttributeDecoder(m.Data[4:])
			if err != nil {
				continue
			}
			ad.ByteOrder = binary.BigEndian
			for ad.Next() {
				if ad.Type() == nfqaPacketHdr && len(ad.Bytes()) >= 4 {
					select {
					case q.due <- queued{id: binary.BigEndian.Uint32(ad.Bytes()), at: now}:
					default: // full: the kernel fails open past its own queue length anyway
					}
				}
			}
		}
	}
}

// release accepts each packet d after it arrived, in the order they came.
func (q *delayQueue) release() {
	defer q.wg.Done()
	for {
		var p queued
		select {
		case <-q.done:
			return
		case p = <-q.due:
		}
		if wait := time.Until(p.at.Add(q.d)); wait > 0 {
			select {
			case <-q.done:
				return
			case <-time.After(wait):
			}
		}
		v := make([]byte, 8)
		binary.BigEndian.PutUint32(v, nfAccept)
		binary.BigEndian.PutUint32(v[4:], p.id)
		if err := q.request(nfqnlMsgVerdict, []netlink.Attribute{{Type: nfqaVerdictHdr, Data: v}}, false); err != nil {
			q.fail(fmt.Errorf("nfqueue: verdict: %w", err))
			return
		}
	}
}

func (q *delayQueue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
	}
}

func (q *delayQueue) close() error {
	q.once.Do(func() {
		close(q.done)
		q.c.Close()
	})
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}
