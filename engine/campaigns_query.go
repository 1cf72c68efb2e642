package engine

import (
	"errors"

	"github.com/campaignd/campaignd/bitmap"
	"github.com/campaignd/campaignd/engine/filter"
	"github.com/campaignd/campaignd/storage"
)

// CampaignsPage is one page of QueryCampaigns.
type CampaignsPage struct {
	Campaigns []*Campaign
	Next      string
	Prev      string
}

// QueryCampaigns returns one page of the campaigns matching q.Filter in q.Sort order (default:
// created_at descending), ties broken by id, each with its progress, sender and segments.
func (e *Engine) QueryCampaigns(q *QueryParams) (*CampaignsPage, error) {
	rq, err := parseRecordQuery(q, filter.CampaignSchema, DefaultCampaignsPerPage, MaxCampaignsPerPage)
	if err != nil {
		return nil, err
	}
	var all []*Campaign
	err = storage.ScanCampaigns(e.db, func(sc *storage.Campaign) error {
		if c := (&Campaign{Campaign: *sc}); rq.filter.Match(c) {
			all = append(all, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page := &CampaignsPage{}
	page.Campaigns, page.Next, page.Prev = pageOf(rq, all)
	for _, c := range page.Campaigns {
		if _, err := storage.ReadCampaignRun(e.db, c.ID, &c.Run); err != nil {
			return nil, err
		}
		if err := e.loadCampaignRefs(c); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// CampaignUsers is one page of a campaign's users (CampaignUsersPage).
type CampaignUsers struct {
	Users []storage.User
	// Next and Prev are the cursors of the neighbour pages; "" when there is none.
	Next, Prev string
}

// CampaignUsersPage returns up to limit target users of c (its user_ids, or its frozen audience
// once started) after the cursor that still exist, with the neighbour cursors. The users are the
// caller's.
func (e *Engine) CampaignUsersPage(c *Campaign, limit int, next, prev string) (*CampaignUsers, error) {
	users, nextCur, prevCur, err := e.campaignUsersPage(c, limit, next, prev)
	if err != nil {
		return nil, err
	}
	return &CampaignUsers{Users: users, Next: nextCur, Prev: prevCur}, nil
}

func (e *Engine) campaignUsersPage(c *Campaign, limit int, next, prev string) (users []storage.User, nextCur, prevCur string, err error) {
	if limit < 0 || limit > MaxCampaignUsersPerPage {
		return nil, "", "", InputError("limit", "limit is %d; use 0 to %d", limit, MaxCampaignUsersPerPage)
	}
	if limit == 0 {
		return nil, "", "", nil
	}
	off, err := parseOffset(next, prev)
	if err != nil {
		return nil, "", "", err
	}
	var ords []uint32
	switch {
	case c.Run.Frozen && c.Run.Kind == storage.AudienceUsers:
		// NB: the page is cut from the frozen bitmap without materialising the whole audience.
		aud, err := bitmap.Load(e.db, storage.CampaignBits(c.ID))
		if err != nil {
			return nil, "", "", err
		}
		start, end, nextCur, prevCur := pageBounds(int(aud.Cardinality()), off, limit)
		pos := 0
		errDone := errors.New("done")
		err = aud.ForEachChunk(FanoutChunkSize, func(chunk []uint32) error {
			if pos+len(chunk) <= start {
				pos += len(chunk)
				return nil
			}
			for _, ord := range chunk {
				if pos >= end {
					return errDone
				}
				if pos >= start {
					ords = append(ords, ord)
				}
				pos++
			}
			return nil
		})
		if err != nil && err != errDone {
			return nil, "", "", err
		}
		users, err = e.liveUsers(ords)
		return users, nextCur, prevCur, err
	case len(c.UserIDs) > 0:
		for _, id := range c.UserIDs {
			if ord, ok := e.db.Users.Lookup(id); ok {
				ords = append(ords, ord)
			}
		}
	default:
		return nil, "", "", nil
	}
	start, end, nextCur, prevCur := pageBounds(len(ords), off, limit)
	users, err = e.liveUsers(ords[start:end])
	return users, nextCur, prevCur, err
}

// liveUsers returns the records of the live users among ords, in the order of ords.
func (e *Engine) liveUsers(ords []uint32) ([]storage.User, error) {
	var users []storage.User
	for _, ord := range ords {
		u, found, err := e.GetUserByOrdinal(ord)
		if err != nil {
			return nil, err
		}
		if found {
			users = append(users, *u)
		}
	}
	return users, nil
}
